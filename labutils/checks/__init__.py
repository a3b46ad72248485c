"""Self-checks with one-line verdicts (see :mod:`labutils.checks.core`); each lab's check module (``lab1`` ...
``lab4``, as ``labutils.course`` names it) holds its tasks, with their checks in it or in its ``labN_*`` modules."""
from .core import TOL, CheckFailed, Verdict, fail, passed, student_check
from .lab1 import (check_bottleneck, check_embedding, check_factories, check_residual_block, check_resnet,
                   check_same_as_torchvision)
from .lab2 import (check_class_weights, check_eval_loop, check_finetune_optimizer, check_frozen_backbone, check_grad_cam,
                   check_head, check_sensitivity_specificity, check_train_loop, check_trainable)
from .lab3 import check_denormalize, check_predict, check_resnext50_32x4d, check_transform
from .lab4 import check_make_model, check_onnx_parity, check_optimizer, check_pick_best, check_strategies

# Every module of this package, each after the modules of it that it imports: the grader's probe cell
# (labutils.grader.probe) reloads them in this order, so a notebook that patched one is graded with fresh
# copies; tests/checks/test_checks_core.py keeps the list complete and in order.
MODULES = ("core", "protocol", "common", "lab1_support", "lab1_models", "lab1", "lab2_loops", "lab2_metrics",
           "gradcam_reference", "lab2_gradcam", "lab2", "lab3", "lab4_reference", "lab4_training", "lab4_onnx", "lab4")
