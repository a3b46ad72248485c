"""Self-checks with one-line verdicts, one module per lab (see :mod:`labutils.checks.core`)."""
from .core import TOL, CheckFailed, Verdict, fail, passed, student_check
from .lab1 import (check_bottleneck, check_embedding, check_factories, check_residual_block, check_resnet,
                   check_same_as_torchvision)
from .lab2 import (check_class_weights, check_eval_loop, check_finetune_optimizer, check_frozen_backbone, check_grad_cam,
                   check_head, check_sensitivity_specificity, check_train_loop, check_trainable)
from .lab3 import check_denormalize, check_predict, check_resnext50_32x4d, check_transform
from .lab4 import check_make_model, check_onnx_parity, check_optimizer, check_pick_best, check_strategies
