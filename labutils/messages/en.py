"""English messages (``LABUTILS_LANG=en``). Same keys and placeholders as :mod:`labutils.messages.ru`."""

MESSAGES = {
    # ---------------------------------------------------------------- checks: verdicts and task labels
    "check.passed": "{task}: ok — {message}",
    "check.failed": "{task}: {message}",
    "check.this_task": "this task",
    "check.todo_where": "{task}: not done yet — replace raise NotImplementedError with your code in the cell with {where}",
    "check.todo": "{task}: not done yet — replace raise NotImplementedError with your code",
    "check.todo_other_where": "{task}: do task {other} first — {where} still raises NotImplementedError",
    "check.todo_other": "{task}: do task {other} first — its code still raises NotImplementedError",
    "task.label": "Task {number} {title}",
    "task.number": "Task {number}",
    # titles in task labels that are words, not code identifiers
    "title.training loop": "training loop",
    "title.model": "model",
    "title.model and new head": "model and new head",
    "title.fine-tuning optimizer": "fine-tuning optimizer",
    "title.ResNet18/34/50 and ResNeXt50_32x4d": "ResNet18/34/50 and ResNeXt50_32x4d",

    # ---------------------------------------------------------------- Lab 1 checks
    "lab1.none": "none",
    "lab1.reference": "torchvision's {name}",
    "lab1.names_differ": ("parameter names differ from {what}: missing {missing}, unexpected {extra} "
                          "(use torchvision's names: conv1, bn1, conv2, bn2, conv3, bn3, downsample)"),
    "lab1.shapes_differ": ("parameter shapes differ from {what}: {name} got {got}, expected {want} (a "
                           "convolution's is [out, in, k, k]: check the channel counts against torchvision)"),
    "lab1.forward_failed": ("{what} failed on input {shape}: {error} "
                            "(do the main path and the shortcut agree in shape? check strides and downsample)"),
    "lab1.mistake.no_skip": "the skip connection is missing (no `+ identity`)",
    "lab1.mistake.relu_before_add": "ReLU is applied before the addition instead of after it",
    "lab1.mistake.no_final_relu": "the final ReLU after the addition is missing",
    "lab1.mistake.no_inner_relu": "the ReLU between the two convolutions is missing",
    "lab1.output_shape_on": "{label} on input {shape}: expected output shape {want}, got {got}",
    "lab1.mistake_found": "{label}: output differs from torchvision's (max |diff| {diff:.3g}) because {mistake}",
    "lab1.block_differs": ("{label}: expected the output of {what} with the same weights, "
                           "got max |diff| {diff:.3g} ({hint})"),
    "lab1.order_basic": ("order: conv1 → bn1 → relu → conv2 → bn2, add the shortcut, then relu; "
                         "the stride belongs to conv1"),
    "lab1.order_bottleneck": ("order: conv1 (1x1) → bn1 → relu → conv2 (3x3) → bn2 → relu → conv3 (1x1) → bn3, "
                              "add the shortcut, then relu; the stride and the groups belong to conv2, "
                              "the 3x3 convolution"),
    "lab1.expansion": "expected a class attribute expansion = {want}, got {got!r}: declare it in the class body",
    "lab1.block_ok": ("same output as torchvision's BasicBlock with and without downsample "
                      "(max |diff| {diff:.1e}), output [2, 32, 4, 4] after stride 2"),
    "lab1.groups": "{label}: expected conv2.groups == 32, got {got}: pass groups to the 3x3 convolution conv2",
    "lab1.bottleneck_ok": ("same output as torchvision's Bottleneck, plain and grouped 32x4d with stride 2 "
                           "(max |diff| {diff:.1e})"),
    "lab1.resnet_differs": ("{label}: expected torchvision's output with the same weights, got max |diff| {diff:.3g} "
                            "(does the downsample use the stage's stride? is in_channels updated after each stage?)"),
    "lab1.resnet_ok": ("3 configurations (BasicBlock, Bottleneck, grouped) load torchvision's weights "
                       "strictly and match (max |diff| {diff:.1e})"),
    "lab1.unknown_factory": "unknown factory {name!r}; expected one of {known}",
    "lab1.factory_count": ("{name}(): expected {want:,} parameters (torchvision {arch}), got {got:,}: check the "
                           "block and the blocks per stage against torchvision"),
    "lab1.factory_item": "{name} {count:,}",
    "lab1.factories_ok": "parameter counts equal torchvision's: {counts}",
    "lab1.factories_ok_reference": ("parameter counts equal torchvision's: {counts}; block and stages as in "
                                    "torchvision (the factories ran with reference ResNet and blocks from "
                                    "torchvision, so mistakes in your blocks and ResNet do not count here)"),
    "lab1.factory_config": ("{name}(): expected {want}, as torchvision's {arch} with {want_count:,} parameters; "
                            "got {got} with {got_count:,} parameters: pass ResNet that block, those stages and "
                            "groups/width_per_group"),
    "lab1.factory_block": ("{name}(): ResNet got the block {got}, expected ResidualBlock or Bottleneck: pass "
                           "ResNet one of those classes"),
    "lab1.factory_num_classes": ("{name}(10): expected fc with 10 outputs (pass num_classes on to ResNet), "
                                 "got {got}"),
    "lab1.copy_class": "{name} is {origin} (or a subclass of it): the task asks you to {what}",
    "lab1.copy_built": "{name} builds {origin} (or a subclass of it): the task asks you to {what}",
    "lab1.copy_method": "{name}.{method} is the function {origin}: the task asks you to {what}",
    "lab1.copy.block": "write the block yourself",
    "lab1.copy.resnet": "write ResNet._make_layer yourself",
    "lab1.copy.model": "build the model with your own ResNet class, not take torchvision's",
    "lab1.output_shape": "expected output shape {want}, got {got}: check the stem, stages and fc against torchvision",
    "lab1.same_diff": ("expected max |diff| < {tol:g} vs torchvision, got {diff:.3g}: forward must apply the "
                       "layers in torchvision's order"),
    "lab1.same_ok": ("loads torchvision's state_dict with strict=True, output {shape}, "
                     "max |diff| {diff:.1e} < {tol:g}"),
    "lab1.fc_replaced": "extract_embedding replaced model.fc; compute the embedding without changing the model",
    "lab1.embedding_shape": ("expected embeddings shaped (3, {dim}) for 3 images, got {got}: take avgpool's output "
                             "and torch.flatten(x, 1)"),
    "lab1.embedding_fc": ("expected model.fc(embedding) to equal model(x), got max |diff| {diff:.3g} "
                          "(take the vector after avgpool and flatten, before fc)"),
    "lab1.embedding_ok": "shape (3, {dim}) and fc(embedding) == model(x) (max |diff| {diff:.1e})",

    "lab1.the_block": "the block",
    "lab1.downsample_missing": "{where} has no downsample module, which {what} has (missing {names}): {hint}",
    "lab1.downsample_extra": "{where} has a downsample module that {what} does not have (unexpected {names}): {hint}",
    "lab1.downsample_hint_layer": ("a stage's first block needs a shortcut module when stride != 1 or the number "
                                   "of input channels differs from out_channels * block.expansion — compare with "
                                   "the block's output channels (4 times out_channels for a Bottleneck)"),
    "lab1.downsample_hint_block": ("keep the downsample given to the constructor as self.downsample and apply it "
                                   "to the shortcut; do not create one when none is given"),
    "lab1.embedding_one": ("for a batch of one image {shape} expected an embedding shaped (1, {dim}), got {got}: "
                           "squeeze() removes the batch dimension too — use torch.flatten(x, 1)"),

    # ---------------------------------------------------------------- Lab 2 checks
    "lab2.returns_none": "{name} must return the model it changed (return model), but returned None",
    "lab2.head_type": ("expected model.fc to be an nn.Linear, got {got}: replace model.fc with "
                       "nn.Linear(model.fc.in_features, num_classes)"),
    "lab2.head_outputs": "expected {want} head outputs, got {got}: nn.Linear's second argument is num_classes",
    "lab2.head_inputs": ("expected {want} head inputs, got {got}: take them from the old head "
                         "(model.fc.in_features), not as a number"),
    "lab2.only_these_train": ("expected only {names} to train, but {count} other tensors have requires_grad=True "
                              "(first: {first}): switch requires_grad off for all the others"),
    "lab2.frozen_wrong": "expected {names} to train, but {first} is frozen: switch requires_grad on for them",
    "lab2.trainable_ok": "{trainable:,} of {total:,} parameters train ({names})",
    "lab2.loop_return": "expected train_one_epoch to return (mean_loss, accuracy), got {got!r}",
    "lab2.never_called_forward": "the model was never called: run the forward pass on each batch",
    "lab2.train_mode": "expected the model in train mode during training, got eval mode: call model.train() first",
    "lab2.steps": ("expected one optimizer.step() per batch ({want} in all), got {got}: call step() exactly once "
                   "inside the batch loop"),
    "lab2.accumulate": ("expected every step to use its own batch's gradient only, but gradients accumulate across "
                        "batches: call optimizer.zero_grad() before the forward pass on every batch"),
    "lab2.loss_fall": ("expected the mean loss to fall over 8 epochs of a learnable toy problem, got "
                       "{first:.3f} → {last:.3f} (is the loss averaged over the samples?)"),
    "lab2.acc_fraction": ("expected accuracy as a fraction in [0, 1], got {acc}: divide the correct answers by the "
                          "examples"),
    "lab2.params_differ": ("after {epochs} epochs the model's parameters differ from the reference loop's "
                           "(max |diff| {diff:.3g}): each batch needs zero_grad, a forward pass, "
                           "criterion(outputs, labels), backward and step, once each"),
    "lab2.loss_mean": ("expected the mean loss of epoch {epoch} to be {want:.4f}, got {got:.4f}: accumulate "
                       "loss.item() × batch size and divide by the number of samples"),
    "lab2.train_ok": ("train mode, zero_grad and one step per batch; toy loss {first:.3f} → {last:.3f}, "
                      "accuracy {acc:.0%}"),
    "lab2.eval_return": "expected evaluate to return (mean_loss, accuracy, labels, probabilities of class 1)",
    "lab2.never_called": "the model was never called",
    "lab2.eval_never_called": "expected a forward pass on every batch of the loader, but the model was never called",
    "lab2.eval_mode": "expected eval mode during evaluation, got train mode: call model.eval() first",
    "lab2.eval_no_grad": "expected no gradient tracking during evaluation: wrap the loop in torch.no_grad()",
    "lab2.eval_changed": ("expected evaluation to leave the parameters unchanged, but they changed: evaluate must "
                          "not call backward() or optimizer.step()"),
    "lab2.eval_labels": ("expected the true labels ({n}) in loader order as a NumPy array, got shape {shape}: "
                         "append labels.cpu().numpy() of every batch to all_labels"),
    "lab2.eval_probs": ("expected class-1 probabilities, one per example, got something else: append "
                        "torch.softmax(outputs, dim=1)[:, 1].cpu().numpy() to all_probs"),
    "lab2.eval_loss": ("expected mean loss {want:.4f} (weighted by batch size), got {got:.4f}: sum loss.item() × "
                       "batch size and divide by the number of examples"),
    "lab2.eval_acc": ("expected accuracy {want:.4f}, got {got:.4f}: compare the logits' argmax over dim 1 with the "
                      "labels and divide by the number of examples"),
    "lab2.eval_ok": "eval mode, no_grad, loss {loss:.3f} and accuracy {acc:.0%} match, {n} probabilities",
    "lab2.groups": ("expected 2 parameter groups (layer4, fc), got {got}: pass Adam a list of two dicts with the "
                    "keys \"params\" and \"lr\""),
    "lab2.group_members": ("expected one group with exactly model.layer4's parameters and one with model.fc's, got "
                           "another split: the first group's params are model.layer4.parameters(), the second's "
                           "model.fc.parameters()"),
    "lab2.group_lrs": ("expected lr {backbone:g} for layer4 and {head:g} for fc, got {got}: do not swap "
                       "backbone_lr and head_lr"),
    "lab2.optimizer_ok": "2 groups: layer4 lr {backbone:g}, fc lr {head:g}",
    "lab2.pair": "expected a pair (sensitivity, specificity), got {got!r}: return a tuple of two numbers",
    "lab2.sens_spec": ("for y_true={y}..., y_pred={p}... expected ({sens:.3f}, {spec:.3f}), got ({got_sens:.3f}, "
                       "{got_spec:.3f}): the positive class is 1 (sick), the matrix is [[TN, FP], [FN, TP]] — "
                       "check that FN and FP or the pair's order are not swapped"),
    "lab2.sens_ok": "{n} cases match TP/(TP+FN) and TN/(TN+FP)",
    "lab2.weights": ("for counts {counts} expected {want}, got {got}: the weight of class c is N / (K · N_c), with "
                     "K = num_classes"),
    "lab2.weights_ok": "matches n_samples / (n_classes · count) for balanced and imbalanced targets",
    "lab2.cam_model_avg": "a narrow ResNet-18 (1/8 of the channels)",
    "lab2.cam_model_max": "a narrow ResNet-18 (1/8 of the channels) with a max-pooling head",
    "lab2.cam_hooks": ("hooks are left on the model after the call ({modules}): remove them "
                       "(handle.remove()) in a finally block, or they fire on every later pass"),
    "lab2.cam_shape": ("expected a map of the image's size {size} (an H × W tensor), got {got!r}: resize the map "
                       "with F.interpolate to image.shape[-2:]"),
    "lab2.cam_finite": "the map has NaN or infinite values: check the division of the normalisation",
    "lab2.cam_range": ("expected a map normalised to [0, 1], got values from {lo:.3g} to {hi:.3g}: subtract the "
                       "minimum and divide by the maximum"),
    "lab2.cam_norelu": ("{model}, class {target}: the map equals Grad-CAM without ReLU — apply ReLU to "
                        "the weighted sum of activations, so only the regions for the class remain"),
    "lab2.cam_noavg": ("{model}, class {target}: gradients are multiplied with activations elementwise — "
                       "the channel weights α_k are the gradients averaged over space (mean over H and W)"),
    "lab2.cam_layer3": ("{model}, class {target}: the map equals Grad-CAM on layer3 — hook model.layer4"),
    "lab2.cam_argmax": ("{model}, class {target}: the map is for the predicted class, not target_class — "
                        "take the gradient of logits[0, target_class]"),
    "lab2.cam_sum": ("{model}, class {target}: the map uses the sum of all logits — take the gradient "
                     "of logits[0, target_class] only"),
    "lab2.cam_differs": ("{model}, class {target}: the map differs from pytorch-grad-cam's (mean |diff| "
                         "{mean:.3f}, max {top:.3f} after normalising to [0, 1]): check steps 1–5 — hooks on "
                         "layer4, the gradient of the target_class logit, the mean over H and W, ReLU, "
                         "interpolation and normalisation"),
    "lab2.cam_ok": "matches pytorch-grad-cam on {n} models (mean |diff| ≤ {mean:.3f}), no hooks left",

    "lab2.loop_what_loss": "the mean loss",
    "lab2.loop_what_acc": "the accuracy",
    "lab2.loop_tensor": "train_one_epoch returned {what} as a tensor ({got}), expected a float number: {fix}",
    "lab2.loop_not_number": "train_one_epoch returned {what} of type {got}, expected a float number: {fix}",
    "lab2.loop_fix_loss": ("add the number loss.item() × batch size to the sum, not the tensor loss itself (the "
                           "sum keeps the computation graph, and the learning-curves cell later fails)"),
    "lab2.loop_fix_acc": "count correct answers as a number: (predictions == labels).sum().item()",
    "lab2.step_before_backward": ("optimizer.step() is called before loss.backward(): the step runs without its "
                                  "batch's gradients (on the first batch the parameters do not change). Expected "
                                  "on every batch: zero_grad() → forward pass → loss → loss.backward() → "
                                  "optimizer.step()"),
    "lab2.no_backward": ("loss.backward() is never called, expected on every batch before optimizer.step(): "
                         "without it the step has no gradients, and the parameters do not learn"),
    "lab2.zero_before_step": ("optimizer.zero_grad() is called between loss.backward() and optimizer.step(): the "
                              "step gets zeroed gradients, and the parameters do not learn. Zero the gradients "
                              "before the forward pass: zero_grad() → forward pass → loss → loss.backward() → "
                              "optimizer.step()"),
    "lab2.adam": "expected torch.optim.Adam, as the task says, got {got}: return torch.optim.Adam with two groups",
    "lab2.sens_one_class_error": ("on a batch of sick children only (y_true = y_pred = {y}) the function failed: "
                                  "{error}. Without labels=[0, 1] confusion_matrix gives a 1 × 1 matrix on such a "
                                  "batch, not 2 × 2: pass labels=[0, 1]"),
    "lab2.sens_one_class": ("on a batch of sick children only (y_true = y_pred = {y}) expected sensitivity 1.000 "
                            "(all found), got {got:.3f}: pass labels=[0, 1] to confusion_matrix so that the matrix "
                            "is always 2 × 2 ([[TN, FP], [FN, TP]])"),
    "lab2.weights_absent": ("for num_classes={k} with class {absent} absent (counts {counts}) expected {k} "
                            "weights, got {got}: torch.bincount without minlength returns fewer numbers — pass "
                            "minlength=num_classes"),
    "lab2.weights_type": ("expected a floating-point torch tensor (what nn.CrossEntropyLoss(weight=...) takes), "
                          "got {got}: return a float torch.Tensor (e.g. with .float())"),
    "lab2.cam_frozen_body": " with a frozen body (only fc trains)",
    "lab2.cam_frozen_error": ("{model}: the function failed — {error}. With a frozen body the gradient does not "
                              "reach layer4, and the backward hook never fires unless the input requires "
                              "gradients: pass image.unsqueeze(0).clone().requires_grad_(True)"),
    "lab2.cam_not_tensor": ("expected a torch tensor (H × W), got {got}: section 12.1 calls .cpu() and .numpy() "
                            "on the map — return a tensor"),
    "lab2.cam_attached": ("the map is still attached to the computation graph (requires_grad=True), expected a "
                          "detached tensor: section 12.1 calls .numpy() and would fail — .detach() the "
                          "activations and gradients (or the map) before computing it"),

    # ---------------------------------------------------------------- Lab 3 checks
    "lab3.not_tensor": "expected a tensor (is ToTensor in the pipeline?), got {got}",
    "lab3.tensor_shape": ("expected a tensor shaped (3, {size}, {size}), got {got}: first Resize((IMAGE_SIZE, "
                          "IMAGE_SIZE)), then ToTensor"),
    "lab3.not_normalized": "expected normalized values (ImageNet mean/std), got values in [0, 1]: add Normalize",
    "lab3.transform_diff": ("expected Resize → ToTensor → Normalize(ImageNet mean/std), got max |diff| {diff:.3g}: "
                            "check the order of the steps and IMAGENET_MEAN and IMAGENET_STD"),
    "lab3.transform_ok": "({channels}, {size}, {size}) tensor, normalized with ImageNet statistics",
    "lab3.predict_return": "expected predict to return a pair (y_true, y_pred): return two arrays",
    "lab3.numpy": "expected NumPy arrays, got {a} and {b}: join the lists with np.concatenate",
    "lab3.no_grad": "expected no gradient tracking: run the loop inside torch.no_grad()",
    "lab3.true_labels": ("expected the true labels ({n}) in loader order, got shape {shape}: append labels.numpy() "
                         "of every batch"),
    "lab3.argmax": ("expected predictions = indices of the largest logit, got something else: take the second "
                    "element of torch.max(outputs, 1)"),
    "lab3.predict_ok": "eval mode, no_grad, {n} labels and predictions as NumPy arrays",
    "lab3.case_batch": "a batch [4, 3, 8, 8]",
    "lab3.case_image": "one image [3, 8, 8]",
    "lab3.denorm_shape": "for {case} expected a tensor of the same shape, got {got}: shape mean and std as (3, 1, 1)",
    "lab3.swapped": "for {case}: mean and std are swapped; denormalize is x * std + mean",
    "lab3.not_inverse": ("for {case}: expected denormalize(normalize(x)) == x, got max |diff| {diff:.3g} "
                         "(multiply by std, then add mean, per channel)"),
    "lab3.denorm_ok": "denormalize(normalize(x)) == x for a batch and for a single image",
    "lab3.stages": ("expected the stages of the 50-layer net [3, 4, 6, 3], got {got}: build torchvision's "
                    "resnext50_32x4d"),
    "lab3.cardinality": ("expected cardinality 32 with 4 channels per group in layer1 (32x4d), got {groups} groups "
                         "of {width} channels: build torchvision's resnext50_32x4d"),
    "lab3.fc": "expected fc = Linear(2048, {n}), got {got}: replace model.fc with nn.Linear(2048, {n})",
    "lab3.resnext_ok": "ResNeXt-50 32x4d: stages {stages}, 32 groups × 4 channels, fc = Linear(2048, {n})",

    "lab3.resize_pair": ("for a non-square {h}×{w} image expected a tensor (3, {size}, {size}), got {got}: Resize "
                         "with one number only sets the shorter side, keeping the aspect ratio — pass a pair "
                         "Resize(({size}, {size}))"),

    # ---------------------------------------------------------------- Lab 4 checks
    "lab4.head": "{arch}: expected {name} = Linear({inp}, {n}), got {got}: put a new nn.Linear in that place",
    "lab4.output": "{arch}: expected output shape (2, {n}), got {got}: the new head must have num_classes outputs",
    "lab4.same_model": "{arch}/{strategy}: expected apply_strategy to return the model it changed: return model",
    "lab4.strategy_item": "{arch}/{strategy} {count:,}",
    "lab4.strategies_ok": "trainable parameters: {summary}",
    "lab4.adam": "expected torch.optim.Adam, got {got}: create torch.optim.Adam",
    "lab4.opt_params": ("expected the optimizer to hold exactly the {want} trainable tensors, got {got} "
                        "(pass [p for p in model.parameters() if p.requires_grad])"),
    "lab4.lr": "expected lr 0.0001, got {got}: pass lr to Adam",
    "lab4.scheduler": ("expected CosineAnnealingLR with T_max = epochs = 15, got {got} (T_max={tmax}): create "
                       "CosineAnnealingLR(optimizer, T_max=epochs)"),
    "lab4.optimizer_ok": "Adam over {n} trainable tensors, lr 1e-4, CosineAnnealingLR(T_max=15)",
    "lab4.picked_test": ("expected the choice by validation accuracy; you picked the best test accuracy "
                         "(the test set must stay unseen until the choice is made)"),
    "lab4.pick_wrong": ("expected run 'c' (highest val acc 0.95, then fewer trainable parameters), got {got!r}: "
                        "choose by best_val_acc, ties by fewer params['trainable']"),
    "lab4.pick_ok": "chooses by validation accuracy, ties to the smaller trainable model",
    "lab4.onnx_diff": ("expected max |ONNX − PyTorch| = {want:.2e} on a batch of 3 images, got {got!r}: return "
                       "float(np.abs(ONNX output − PyTorch output).max()) on the given batch"),
    "lab4.onnx_other": ("for a PyTorch model whose bias differs by 1, expected a difference of about 1, "
                        "got {got!r}; compare the onnxruntime output with the given model's output"),
    "lab4.onnx_ok": "onnxruntime vs PyTorch on 3 images: max |diff| {diff:.1e}; a changed model is detected",
    "lab4.model_names": ("{arch}: parameter names differ from torchvision's {arch} with the new head: "
                         "missing {missing}, unexpected {extra} (replace only the head, leave the rest as it is)"),
    "lab4.model_shapes": ("{arch}: parameter shapes differ from torchvision's {arch} with the new head: {name} got "
                          "{got}, expected {want} (replace only the head)"),
    "lab4.model_output": ("{arch}: with the same weights as torchvision's {arch} with the new head, the output "
                          "differs by {diff:.2e} (make_model must return that architecture with only the head replaced)"),
    "lab4.pick_wrong_run": ("expected run {want!r} (highest val acc {acc}, then fewer trainable parameters), got "
                            "{got!r}: choose by best_val_acc, ties by fewer params['trainable']"),

    "lab4.all_train": ("expected every parameter to train, but {count} tensors are frozen (first: {first}): set "
                       "requires_grad on every parameter of the model, not relying on what the previous strategy "
                       "left"),
    "lab4.unknown_arch_accepted": ("make_model({arch!r}, {n}) returned a model ({got}), expected a ValueError: "
                                   "raise ValueError with a clear message for any architecture other than resnet50 "
                                   "and efficientnet_b0"),
    "lab4.unknown_arch_error": ("make_model({arch!r}, {n}) raised {error}, expected a ValueError: raise ValueError "
                                "with a clear message for an unknown architecture"),
    "lab4.unknown_arch_ok": "; make_model({arch!r}) → ValueError",
    "lab4.onnx_eval": ("the PyTorch model ran in train mode, expected eval: Dropout and BatchNorm in training give "
                       "another output than the exported model — call model.eval() before the forward pass"),
    "lab4.onnx_no_grad": "the PyTorch forward pass tracked gradients, expected none: run it inside torch.no_grad()",

    # ---------------------------------------------------------------- runtime
    "runtime.smoke_value": ("{var}={value!r} is not understood: use {var}=1 for the smoke demo "
                            "or {var}=0 (or unset) for real data."),
    "runtime.smoke_notice": "[SMOKE MODE] {message}",
    "runtime.mode_smoke": ("SMOKE MODE ({var}=1): synthetic stand-in data, random weights, a few batches. "
                           "Numbers below show that the code runs, not how well the method works."),
    "runtime.mode_full": "Full mode: real datasets and ImageNet weights (for a quick demo: SMOKE = True in the first cell, or {var}=1).",
    "dogs.attached_short": "{folder} holds {n} images named <wnid>_<number>.jpg, at least {want} are needed",
    "hosted.where_colab": "Running on Google Colab.",
    "hosted.where_kaggle": ("Running on Kaggle. Attached datasets are read from /kaggle/input (read-only), "
                            "everything the notebook writes goes to /kaggle/working."),
    "hosted.where_local": "Running on your own computer or in a checkout of the course.",
    "hosted.no_drive": ("Data goes to /content/data: Colab wipes it when the session ends, and the archives "
                        "will be downloaded again. To keep them on Google Drive, set USE_DRIVE = True in the "
                        "first cell and run it again."),
    "hosted.data": "Data folder: {folder}",
    "hosted.device": "Device: {device}. Precision: {precision}",
    "hosted.input_found": "Found a copy of {what} among the attached datasets: {path}",
    "hosted.input_rejected": "The copy of {what} in {path} does not fit and was skipped: {reason}",
    "runtime.no_cuda": "Device {device!r} was requested ({var}) but CUDA is not available.",
    "runtime.no_mps": "Device {device!r} was requested ({var}) but Apple MPS is not available.",
    "runtime.redirect": ("The data folder {root} cannot be written (a shared read-only copy): extracted "
                         "archives, splits, smoke stand-ins and run results go to {cache}. "
                         "Set {var} to choose another folder for them."),
    "runtime.no_writable": "Neither {path} nor {cache} can be written: set {var} to a folder you can write to.",
    "runtime.lock_wait": "Another process is already preparing {what}; waiting for it to finish (lock {lock})...",
    "cifar100.folder_rejected": ("The folder {folder} failed torchvision's check (MD5 checksums of its files) "
                              "and is not used."),
    "cifar100.set_aside": "The damaged folder {folder} was renamed to {aside} (nothing deleted).",
    "cifar100.extracting": "Extracting {archive} into {dest} (the archive is kept)...",

    # ---------------------------------------------------------------- models
    "models.no_weights": "{arch} has no weights {weights!r}; choose one of {names}",
    "models.random_weights": "{arch}: RANDOM weights instead of ImageNet {weights}.",
    "models.loaded": "{arch}: ImageNet weights {weights} loaded from {path}",

    # ---------------------------------------------------------------- data, metrics, features
    "data.shape": "expected images shaped [C, H, W] or [N, C, H, W] with C={channels}, got {shape}",
    "metrics.square": "expected a square matrix for {n} classes, got shape {shape}",
    "features.progress": "features",

    # ---------------------------------------------------------------- datasets
    "imagefolder.report_counts": "{root}: {counts} ({n} images)",
    "imagefolder.report_skipped": "skipped {n} file(s); nothing was deleted:",
    "imagefolder.unreadable": "not a readable image (corrupt, or another format with an image extension)",
    "imagefolder.undecodable": "cannot be decoded ({error}); corrupt or truncated",
    "imagefolder.folder_missing": "image folder {root} does not exist (expected {root}/<class>/<images>)",
    "imagefolder.no_classes": "{root} has no class sub-folders (expected {root}/<class>/<images>)",
    "imagefolder.class_missing": "class folder {folders} does not exist (expected classes {classes})",
    "imagefolder.no_extension": "none",
    "imagefolder.not_image_file": "not an image file (extension {ext!r})",
    "imagefolder.class_empty": "class folder {folder} contains no readable images",
    "imagefolder.image_read": ("cannot read image {path}: {error}. The file is corrupt or truncated; move it out of the "
                            "dataset folder (nothing was deleted) and run again."),
    "imagefolder.not_caching": ("Not caching {n} images in memory: about {need:,.0f} MiB needed, "
                             "budget {budget:,.0f} MiB; images are decoded on every access."),
    "imagefolder.progress_caching": "caching images",
    "imagefolder.too_large": "image too large ({error}); Pillow refuses such images as a decompression-bomb guard",
    "imagefolder.image_too_large": ("cannot open image {path}: {error}. It is too large for Pillow (decompression-bomb "
                                    "guard); move it out of the dataset folder (nothing was deleted) and run again."),
    "imagefolder.macos_file": "macOS metadata file, not an image",
    "imagefolder.macos_folder": "macOS metadata folder, not images",
    "imagefolder.report_more": "  … and {n} more (full list: .skipped)",
    "imagefolder.grouped_count": "grouped_split: {n} samples but {groups} groups; give one group per sample",
    "imagefolder.grouped_fraction": "grouped_split: val_fraction must be in (0, 0.5], got {fraction}",
    "imagefolder.grouped_few": ("grouped_split: {groups} groups cannot be split into {folds} folds "
                             "(val_fraction={fraction}); more patients are needed"),
    "chest_xray.source_argument": "argument",
    "chest_xray.not_xray": ("{root} (from {source}) is not the chest X-ray folder: expected {root}/train/NORMAL and "
                          "{root}/train/PNEUMONIA, as in the Kaggle copy chest_xray/ or the extracted "
                          "ChestXRay2017.zip"),
    "chest_xray.standin": ("chest X-rays: SYNTHETIC stand-in images in {root} (grayscale stripes, several images "
                              "per patient with Kermany's file names, imbalanced like the real set), "
                              "not real radiographs."),
    "chest_xray.extracting": "Extracting the chest_xray/ folder of {archive} into {dest} (the archive is kept)...",
    "chest_xray.unnamed_none": "Every file name carries a patient number.",
    "chest_xray.unnamed_count": ("Files without a patient number in their name: {n}; each counts as a patient of its "
                               "own (if they are copies of X-rays, the split cannot see their patient):"),
    "chest_xray.unnamed_more": "  … and {n} more (full list: the second result of chest_xray_patients)",
    "cifar100.unknown_classes": "not CIFAR-100 classes: {names}",
    "cifar100.standin": "CIFAR-100: SYNTHETIC stand-in (100 classes, 32×32 stripes), not real photos.",
    "dogs.report": "{total} usable images of {breeds} breeds → {processed}",
    "dogs.skipped": "skipped {n} file(s) (the raw files are kept):",
    "dogs.too_small": "too small ({width}×{height} < {side}×{side})",
    "dogs.exists": "{processed} exists but does not hold this split; move it away to prepare it again",
    "dogs.standin": ("Stanford Dogs: SYNTHETIC stand-in archive in {base} (5 breeds + 1 distractor), "
                              "not real photos."),
    "dogs.extracting": "Extracting {n} breeds from {archive} (the archive is kept)...",

    # ---------------------------------------------------------------- standins
    "standins.label": "label {label} is outside 0..{last}",
    "standins.not_ours": ("{root} already holds files that are not a labutils stand-in; refusing to write "
                          "synthetic images there. Choose another folder or move your data."),
    "standins.mode": "mode must be 'RGB' or 'L', got {mode!r}",
    "standins.size_range": "size_range must satisfy 8 <= min <= max, got {got}",
    "chest_xray.patients": "patients must map 'NORMAL' and 'PNEUMONIA' (in this order), got {got}",
    "chest_xray.per_patient": "images_per_patient must satisfy 1 <= min <= max, got {got}",

    # ---------------------------------------------------------------- registry, fetch, archives
    "registry.size_mb": "{mb:,.1f} MB",
    "registry.size_approx": "~{mb:,.0f} MB",
    "registry.size_unknown": "size unknown",
    "registry.unknown": "{name!r} is not in the registry; known names: {known}",
    "registry.not_zip": "not a complete zip archive ({error})",
    "registry.no_jpegs": "the archive has no .jpeg images in {folders}; it is not ChestXRay2017.zip",
    "registry.weights_description": "ImageNet weights {weights} (torchvision)",
    "registry.description.chest_xray": ("Chest X-ray pneumonia set, ChestXRay2017.zip (Kermany et al. 2018, "
                                        "Mendeley Data, CC BY 4.0)"),
    "registry.description.cifar100": ("CIFAR-100, python version (Krizhevsky 2009); the archive "
                                      "torchvision.datasets.CIFAR100 reads"),
    "registry.description.stanford_dogs": "Stanford Dogs images (Khosla et al. 2011), 120 breeds; Lab 4 extracts five",
    "fetch.size_mismatch": "{path}: size {size:,} bytes, expected {want:,} for {name!r} (truncated or wrong file)",
    "fetch.checksum_mismatch": ("{path}: {algo} {got}... does not match {want} recorded for {name!r} "
                                "(corrupt or incomplete file)"),
    "fetch.content": "{path}: {error} (registry entry {name!r})",
    "fetch.manual_help": (
        "  - On a machine with internet run `python -m labutils.fetch {name}` and copy\n"
        "    {dest} to the same place here (or point LABUTILS_DATA at a folder holding {subdir}/).\n"
        "  - Or download {url} yourself and save it as {dest}.\n"
        "  - To try the notebook without the real files, run it with {smoke}=1 (synthetic data, random weights)."
    ),
    "fetch.set_aside": "{reason}\n  The file was kept as {aside}; fetching a fresh copy.",
    "fetch.offline_value": ("{var}={value!r} is not understood: {var}=1 forbids downloads, "
                            "{var}=0 (or unset) allows them."),
    "fetch.offline": ("{name!r} ({size}) has to be downloaded, but {var}=1 forbids downloads. Missing: {dest}\n"
                      "  - On a machine with internet run `python -m labutils.fetch {name}` and copy {dest} to "
                      "the same place here (or point LABUTILS_DATA to a folder that has {subdir}/).\n"
                      "  - On Kaggle attach a dataset holding this file to the notebook (Add Input).\n"
                      "  - Or unset {var} to download it from {url}."),
    "fetch.cannot_download": "Could not download {name!r} ({size}) from {url}: {error}\n{help}",
    "fetch.broke_off": "Download of {name!r} from {url} broke off after {size:,} bytes: {error}\n{help}",
    "fetch.ignoring": "{error}\n  Ignoring it.",
    "fetch.shared_bad": ("{reason}\n  This file is in the shared data folder {folder}, which is read-only: it was "
                         "left as it is (it can be neither replaced nor renamed from here). Tell your instructor or "
                         "the classroom administrator that it must be downloaded again (python -m labutils.fetch "
                         "{name}, run by someone who can write to that folder).\n  {then}"),
    "fetch.shared_using": "Meanwhile the verified copy in your own cache is used: {path}.",
    "fetch.shared_fetching": "Meanwhile a fresh copy is being downloaded into your own cache (LABUTILS_CACHE): {path}.",
    "fetch.shared_failed": "Downloading a fresh copy into your own cache failed as well:\n{error}",
    "fetch.cli_description": ("Pre-download the course's datasets and ImageNet weights into data/ "
                              "(for offline classrooms)."),
    "fetch.cli_names": "registry names (see --list)",
    "fetch.cli_all": "fetch every registry entry",
    "fetch.cli_list": "list registry entries and exit",
    "fetch.cli_dest": "data folder (default: data/ or $LABUTILS_DATA)",
    "fetch.cli_entry": "{name:18} {kind:8} lab {labs:5} {size:>10}  {description}",
    "fetch.cli_unknown": "unknown name(s): {names}; known: {known}",
    "fetch.cli_ok": "ok    {name}: {path}",
    "fetch.cli_fail": "FAIL  {name}: {error}",
    "fetch.cli_summary": "{ok} fetched, {failed} failed",
    "fetch.cli_summary_names": "{ok} fetched, {failed} failed: {names}",
    "archives.outside": "{archive}: member {name!r} would be written outside the target folder; nothing was extracted",
    "archives.exists": "{dest} already exists; remove or rename it to extract again",
    "archives.symlink": "{archive}: member {name!r} is a symbolic link; nothing was extracted",
    "archives.bad_zip": "{archive}: {error}; download it again (python -m labutils.fetch)",
    "archives.special": "{archive}: member {name!r} is a link or special file; nothing was extracted",
    "archives.damaged": ("{archive}: member {name!r} is damaged or the archive is cut off ({error}); nothing was "
                         "extracted; download it again (python -m labutils.fetch)"),
    "archives.unreadable": ("{archive}: the archive cannot be read, it is damaged or cut off ({error}); nothing was "
                            "extracted; download it again (python -m labutils.fetch)"),
    "archives.leftover_removed": "Removed a folder left by an interrupted extraction: {path}",
    "archives.macos_skipped": ("{archive}: macOS metadata not extracted ({n}: .DS_Store, ._*, __MACOSX/): "
                               "{names}{more}"),
    "archives.macos_more": " … and {n} more",
    "fetch.stale_part": "Removed the unfinished file of an interrupted download: {path} ({mb:,.1f} MB)",
    "fetch.kept_aside": ("The damaged archive was kept as {aside}; the next run "
                         "(or python -m labutils.fetch {name}) downloads it again."),
    "registry.bad_member": "member {member!r} is damaged ({error}); the archive is incomplete or corrupted",

    # ---------------------------------------------------------------- training
    "training.n_steps": "n_steps must be at least 1, got {n}",
    "training.hours": "{hours} h {minutes:02d} min",
    "training.minutes": "{minutes} min {seconds:02d} s",
    "training.seconds": "{seconds:.1f} s",
    "training.milliseconds": "{ms:.3g} ms",
    "training.frozen_bn": ("frozen_bn must be 'eval' (frozen BatchNorm layers keep their running statistics) "
                           "or 'train' (PyTorch's default: every BatchNorm follows model.train()), got {got!r}"),
    "inference.tie": ("{a} and {b}: a tie in latency, the interquartile ranges overlap "
                      "({a_q1:.1f}–{a_q3:.1f} and {b_q1:.1f}–{b_q3:.1f} ms)"),
    "inference.faster": ("{fast} is faster than {slow} by a factor of {ratio:.1f}: median {fast_ms:.1f} vs {slow_ms:.1f} ms "
                         "(the interquartile ranges do not overlap)"),
    "training.needs_scaler": ("{device}: the fast path chose float16 here, but run_epoch was called to train "
                              "without the scaler argument; without loss scaling small float16 gradients underflow to zero. Pass "
                              "scaler=torch.amp.GradScaler(\"cuda\") (as fit does) or amp=False"),
    "training.loader": "loader",
    "training.no_batches": "{what} yielded no batches; is the dataset empty?",
    "training.resume_mismatch": ("{checkpoint} was trained with frozen_bn={saved!r}, this call asks for "
                                 "frozen_bn={asked!r}; pass the same value or delete {run_dir} to train afresh"),
    "training.resuming": "Resuming {run} from its checkpoint after epoch {epoch}.",
    "training.progress_train": "train",
    "training.progress_val": "val",
    "training.bad_json": "{path} is not valid JSON ({error}); delete it to rerun that experiment",
    # the grader: grade.* from labutils.checks.protocol's grading half, integrity.* from labutils.grader.integrity
    "grade.name_missing": "the notebook has no {name} (NameError): the task is not done or its cell does not run",
    "grade.malformed": "Task {task}: the check's data is malformed (not what the grader's probe returns)",
    "grade.malformed_detail": "Task {task}: the check's data is malformed ({error})",
    "integrity.copy": ("{name} (cell {cell}) uses the library's implementation {used}: the task asks you to "
                       "write it yourself — 0 points for the task"),
    "integrity.custom_exc": "cell {cell}, line {line}: hides errors with set_custom_exc",
    "integrity.events": "cell {cell}, line {line}: registers IPython event callbacks",
    "integrity.signals": "cell {cell}, line {line}: sends or catches process signals",
    "integrity.processes": "cell {cell}, line {line}: starts processes outside the kernel's session (fork/setsid)",
    "integrity.ctypes": "cell {cell}, line {line}: imports ctypes",
    "integrity.sys_modules": "cell {cell}, line {line}: replaces modules or the import system (sys.modules, sys.meta_path)",
    "integrity.builtins": "cell {cell}, line {line}: replaces Python's builtins",
    "integrity.patch": "cell {cell}, line {line}: changes library objects (labutils, torch, json, importlib …)",
    "integrity.frames": "cell {cell}, line {line}: looks at the call stack (inspect.stack, sys._getframe, f_back …)",
    "integrity.tracing": "cell {cell}, line {line}: sets a tracing or profiling hook (settrace, setprofile …)",
    "integrity.threads": "cell {cell}, line {line}: starts threads (threading.Thread, Timer …)",
    "integrity.dynamic_code": "cell {cell}, line {line}: runs code from a string (exec, eval, compile, run_cell)",
    "integrity.dynamic_import": "cell {cell}, line {line}: imports a module by a computed name",
    "integrity.copy_source": ("{name} (cell {cell}) repeats torchvision's {source} almost verbatim "
                              "({share:.0%} of its fragments match once names are replaced)"),
    # labutils.stats
    "stats.points": " p.p.",
    "stats.tie": ("{metric}: a tie between '{a}' and '{b}': the difference is {signed}{unit}, and the {level}% "
                  "bootstrap interval [{low}; {high}]{unit} contains zero: the data do not tell them apart"),
    "stats.better": ("{metric}: '{better}' is better than '{worse}' by {diff}{unit} (the {level}% bootstrap "
                     "interval of the difference, [{low}; {high}]{unit}, excludes zero)"),
    # labutils.fastpath
    "fastpath.bad_env": "{var}={value!r} is not understood: use {var}=1 (the default) or {var}=0",
    "fastpath.contiguous": "contiguous memory",
    "fastpath.on": ("Fast path on {device}: {dtype} autocast + {layout} (switch off: {var}=0; "
                    "compared with float32 on one task: python -m labutils.bench)"),
    "fastpath.float32": "{device}: float32 + {layout} (autocast off; switch everything off: {var}=0)",
    "fastpath.cpu_no_bf16": "This CPU has no native bfloat16: training in float32 + {layout} (switch that off too: {var}=0)",
    "fastpath.off_env": "Fast path off ({var}=0): {device}, float32, contiguous memory",
    "fastpath.cuda_no_scaler": ("{device}: float32 + {layout} in your loop: this GPU has no native bfloat16, "
                                "and float16 without a GradScaler loses small gradients (switch everything off: {var}=0)"),
    "fastpath.fp16_without_scaler": ("{device}: autocast here would be float16 (no native bfloat16), and float16 "
                                     "without a GradScaler loses small gradients: pass scaler=True and train with "
                                     "torch.amp.GradScaler, or leave amp=\"auto\" (float32)"),
    # labutils.rehearse: the full-mode dress rehearsal (instructors; its banner shows in the rehearsal's kernels)
    "rehearse.banner": ("[REHEARSAL] Full mode on stand-in data (python -m labutils.rehearse): {files} stand-in "
                        "files (archives, and weights holding random initialisations) are accepted although their "
                        "checksums differ, in this kernel only, which the rehearsal started. float32 forced: "
                        "{fp32}; tiny budget (1 epoch): {tiny}. Model accuracy means nothing here; what counts is "
                        "time, memory and that every line runs."),
    "rehearse.bypass_marker": "[REHEARSAL] Checksum mismatch",
    "rehearse.bypass_used": ("[REHEARSAL] Checksum mismatch: the file is accepted as the rehearsal's stand-in "
                             "(the very bytes it wrote): {path}"),
    "rehearse.cli_description": ("Full-mode dress rehearsal: stand-in data with the real structure (and, with "
                                 "--scale full, the real size), every solution notebook end to end with "
                                 "LABUTILS_SMOKE=0, a report of time, memory and disk"),
    "rehearse.cli_scale": "tiny: a few images per class and one epoch (minutes); full: the real counts",
    "rehearse.cli_lab": "only this lab (01-04); may be repeated; default all",
    "rehearse.cli_out": "folder for the data, the report and the executed notebooks (default: a new temporary one)",
    "rehearse.cli_precision": ("auto: as a student's run on this CPU; fp32: bfloat16 off (float32 + "
                               "channels_last), as on a CPU without bfloat16"),
    "rehearse.cli_workers": "processes that write the stand-in images",
    "rehearse.cli_timeout": "time limit of one cell, seconds",
    "rehearse.not_ours": ("The folder {data} is not empty and was not made by the rehearsal, which removes "
                          "everything in it but its stand-ins. Give --out a new or empty folder."),
    "rehearse.building": "Building the stand-ins (scale {scale}) in {data} ...",
    "rehearse.built": "Stand-in files: {n}, {mb:.0f} MB; building them took {s} s (not part of the labs' times).",
    "rehearse.running": "Lab {lab}: running {notebook} in full mode ...",
    "rehearse.written": "Report: {path}",
    "rehearse.lab_failed": "Lab {lab} stopped at cell {cell}:\n{error}",
    "rehearse.col_lab": "lab",
    "rehearse.col_status": "result",
    "rehearse.col_wall": "total, m:s",
    "rehearse.col_pss": "peak memory, GiB",
    "rehearse.col_disk": "written, MiB",
    "rehearse.phase.preparation": "data",
    "rehearse.phase.caching": "cache",
    "rehearse.phase.training": "training",
    "rehearse.phase.evaluation": "evaluation",
    "rehearse.phase.analysis": "analysis/export",
    "rehearse.machine": ("Machine: {cpu}, {cores} cores, native bfloat16: {bf16}; scale {scale}, precision "
                         "{precision}; load average {load} (other processes slow every figure)"),
    "rehearse.ok": "ok",
    "rehearse.failed": "failed at cell {cell}",
    "rehearse.slowest": "Lab {lab}, slowest cells: {cells}",
    # labutils.grader.feedback: what a student reads of the grading (no instructor-only details)
    "feedback.title": "Grading results: {lab}",
    "feedback.lab.01": "Lab 1. Residual networks (ResNet)",
    "feedback.lab.02": "Lab 2. Healthy or ill: fine-tuning ResNet-18 on chest X-rays",
    "feedback.lab.03": "Lab 3. Fine-tuning a pretrained ResNeXt on CIFAR-100",
    "feedback.lab.04": "Lab 4. Freeze, unfreeze partly or fine-tune all",
    "feedback.lab_unknown": "lab not recognised",
    "feedback.file": "File: {file}",
    "feedback.points": "Points: {points} of {max_points}",
    "feedback.col_task": "Task",
    "feedback.col_points": "Points",
    "feedback.col_verdict": "Verdict",
    "feedback.errors": "Errors while the notebook ran",
    "feedback.error_line": "cell {cell} (counting from 1 at the top): {ename}: {evalue}",
    "feedback.no_errors": "No errors while the notebook ran.",
    "feedback.status.timeout": ("The notebook did not finish in the time allowed, and the tasks after the stop are "
                                "not graded: find the slow cell, check that the whole notebook passes "
                                "\"Restart & Run All\", and submit it again."),
    "feedback.status.crashed": ("The notebook's run stopped abnormally (its kernel died: e.g. out of memory, or the "
                                "code ended the process): check that the whole notebook passes "
                                "\"Restart & Run All\", and submit it again."),
    "feedback.status.invalid": ("The file cannot be read as a Jupyter notebook: submit the .ipynb file saved by "
                                "Jupyter, without editing it by hand."),
    "feedback.status.unknown-lab": ("Which lab this is could not be told: submit the notebook handed out in the "
                                    "course under its original name."),
    "feedback.status.error": ("The grading did not happen for a technical reason on the course's side; this is not "
                              "your mistake, the instructor will grade the work again."),
}
