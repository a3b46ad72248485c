"""Русские сообщения (язык по умолчанию). Same keys and placeholders as :mod:`labutils.messages.en`.

Paths, variable names, code and commands stay verbatim inside the Russian text; counts are
written as "что: N" where a Russian noun would have to agree with the number.
"""

MESSAGES = {
    # ---------------------------------------------------------------- checks: verdicts and task labels
    "check.passed": "{task}: верно — {message}",
    "check.failed": "{task}: {message}",
    "check.this_task": "это задание",
    "check.todo_where": ("{task}: ещё не выполнено — замените raise NotImplementedError своим кодом "
                         "в ячейке с {where}"),
    "check.todo": "{task}: ещё не выполнено — замените raise NotImplementedError своим кодом",
    "check.todo_other_where": ("{task}: сначала выполните задание {other} — в {where} ещё стоит "
                               "raise NotImplementedError"),
    "check.todo_other": "{task}: сначала выполните задание {other} — в его коде ещё стоит raise NotImplementedError",
    "task.label": "Задание {number} {title}",
    "task.number": "Задание {number}",
    # titles in task labels that are words, not code identifiers
    "title.training loop": "цикл обучения",
    "title.model": "модель",
    "title.model and new head": "модель и новая голова",
    "title.fine-tuning optimizer": "оптимизатор дообучения",
    "title.ResNet18/34/50 and ResNeXt50_32x4d": "ResNet18/34/50 и ResNeXt50_32x4d",

    # ---------------------------------------------------------------- Lab 1 checks
    "lab1.none": "нет",
    "lab1.reference": "{name} из torchvision",
    "lab1.names_differ": ("имена параметров отличаются от {what}: не хватает {missing}, лишние {extra} "
                          "(используйте имена torchvision: conv1, bn1, conv2, bn2, conv3, bn3, downsample)"),
    "lab1.shapes_differ": ("формы параметров отличаются от {what}: у {name} получено {got}, ожидалось {want} (у "
                           "свёртки — [выходы, входы, k, k]: сверьте числа каналов с torchvision)"),
    "lab1.forward_failed": ("{what} падает на входе {shape}: {error} "
                            "(совпадают ли формы основного пути и shortcut? проверьте stride и downsample)"),
    "lab1.mistake.no_skip": "нет skip-соединения (не хватает `+ identity`)",
    "lab1.mistake.relu_before_add": "ReLU применяется до сложения, а должен — после",
    "lab1.mistake.no_final_relu": "нет завершающего ReLU после сложения",
    "lab1.mistake.no_inner_relu": "нет ReLU между двумя свёртками",
    "lab1.output_shape_on": "{label} на входе {shape}: ожидалась форма выхода {want}, получено {got}",
    "lab1.mistake_found": "{label}: выход отличается от torchvision (max |diff| {diff:.3g}): {mistake}",
    "lab1.block_differs": ("{label}: ожидался выход {what} с теми же весами, "
                           "получено max |diff| {diff:.3g} ({hint})"),
    "lab1.order_basic": ("порядок: conv1 → bn1 → relu → conv2 → bn2, прибавить shortcut, затем relu; "
                         "stride задаётся в conv1"),
    "lab1.order_bottleneck": ("порядок: conv1 (1x1) → bn1 → relu → conv2 (3x3) → bn2 → relu → conv3 (1x1) → bn3, "
                              "прибавить shortcut, затем relu; stride и groups задаются в conv2, "
                              "свёртке 3x3"),
    "lab1.expansion": "ожидался атрибут класса expansion = {want}, получено {got!r}: объявите его в теле класса",
    "lab1.block_ok": ("тот же выход, что у BasicBlock из torchvision, с downsample и без него "
                      "(max |diff| {diff:.1e}), выход [2, 32, 4, 4] после stride 2"),
    "lab1.groups": "{label}: ожидалось conv2.groups == 32, получено {got}: передайте groups в свёртку 3x3 conv2",
    "lab1.bottleneck_ok": ("тот же выход, что у Bottleneck из torchvision, обычного и группового 32x4d "
                           "со stride 2 (max |diff| {diff:.1e})"),
    "lab1.resnet_differs": ("{label}: ожидался выход torchvision с теми же весами, получено max |diff| {diff:.3g} "
                            "(использует ли downsample stride своей стадии? обновляется ли in_channels "
                            "после каждой стадии?)"),
    "lab1.resnet_ok": ("3 конфигурации (BasicBlock, Bottleneck, групповая) загружают веса torchvision "
                       "со strict=True и совпадают с ним (max |diff| {diff:.1e})"),
    "lab1.unknown_factory": "неизвестная фабрика {name!r}; ожидалась одна из {known}",
    "lab1.factory_count": ("{name}(): ожидалось параметров: {want:,} (torchvision {arch}), получено {got:,}: "
                           "сверьте блок и число блоков в стадиях с torchvision"),
    "lab1.factory_item": "{name} {count:,}",
    "lab1.factories_ok": "число параметров совпадает с torchvision: {counts}",
    "lab1.factories_ok_reference": ("число параметров совпадает с torchvision: {counts}; блок и стадии — как у "
                                    "torchvision (фабрики вызваны с эталонными ResNet и блоками из torchvision, "
                                    "так что ошибки ваших блоков и ResNet здесь не учитываются)"),
    "lab1.factory_config": ("{name}(): ожидалась модель {want} — как torchvision {arch}, параметров: "
                            "{want_count:,}; получено {got}, параметров: {got_count:,}: передайте в ResNet этот "
                            "блок, эти стадии и groups/width_per_group"),
    "lab1.factory_block": ("{name}(): ResNet получил блок {got}, а ожидался ResidualBlock или Bottleneck: "
                           "передайте в ResNet класс одного из них"),
    "lab1.factory_num_classes": ("{name}(10): ожидалось 10 выходов у fc (передайте num_classes в ResNet), "
                                 "получено {got}"),
    "lab1.copy_class": "{name} — это {origin} (или его подкласс): задание требует {what}",
    "lab1.copy_built": "{name} создаёт {origin} (или его подкласс): задание требует {what}",
    "lab1.copy_method": "{name}.{method} — это функция {origin}: задание требует {what}",
    "lab1.copy.block": "написать блок самим",
    "lab1.copy.resnet": "написать ResNet._make_layer самим",
    "lab1.copy.model": "собрать модель своим классом ResNet, а не брать готовую из torchvision",
    "lab1.output_shape": "ожидалась форма выхода {want}, получено {got}: сверьте stem, стадии и fc с torchvision",
    "lab1.same_diff": ("ожидалось max |diff| < {tol:g} относительно torchvision, получено {diff:.3g}: слои должны "
                       "идти в forward в том же порядке, что у torchvision"),
    "lab1.same_ok": ("загружает state_dict torchvision со strict=True, выход {shape}, "
                     "max |diff| {diff:.1e} < {tol:g}"),
    "lab1.fc_replaced": "extract_embedding заменила model.fc; вычислите эмбеддинг, не меняя модель",
    "lab1.embedding_shape": ("ожидались эмбеддинги формы (3, {dim}) для трёх изображений, получено {got}: возьмите "
                             "выход avgpool и torch.flatten(x, 1)"),
    "lab1.embedding_fc": ("ожидалось, что model.fc(embedding) равно model(x), получено max |diff| {diff:.3g} "
                          "(возьмите вектор после avgpool и flatten, до fc)"),
    "lab1.embedding_ok": "форма (3, {dim}) и fc(embedding) == model(x) (max |diff| {diff:.1e})",

    "lab1.the_block": "блока",
    "lab1.downsample_missing": "у {where} нет модуля downsample, который есть у {what} (не хватает {names}): {hint}",
    "lab1.downsample_extra": "у {where} есть модуль downsample, которого нет у {what} (лишние {names}): {hint}",
    "lab1.downsample_hint_layer": ("shortcut-модуль первому блоку стадии нужен, когда stride != 1 или число "
                                   "входных каналов не равно out_channels * block.expansion — сравнивайте с числом "
                                   "каналов на выходе блока (у Bottleneck оно в 4 раза больше out_channels)"),
    "lab1.downsample_hint_block": ("сохраните переданный в конструктор downsample как self.downsample и применяйте "
                                   "его к shortcut; без переданного downsample своего не создавайте"),
    "lab1.embedding_one": ("для батча из одного изображения {shape} ожидался эмбеддинг формы (1, {dim}), получено "
                           "{got}: squeeze() убирает и размерность батча — используйте torch.flatten(x, 1)"),

    # ---------------------------------------------------------------- Lab 2 checks
    "lab2.returns_none": "{name} должна вернуть изменённую модель (return model), а вернула None",
    "lab2.head_type": ("ожидалось, что model.fc — это nn.Linear, получено {got}: замените model.fc на "
                       "nn.Linear(model.fc.in_features, num_classes)"),
    "lab2.head_outputs": "ожидалось выходов у головы: {want}, получено {got}: второй аргумент nn.Linear — num_classes",
    "lab2.head_inputs": ("ожидалось входных признаков у головы: {want}, получено {got}: возьмите их у прежней "
                         "головы (model.fc.in_features), а не задавайте числом"),
    "lab2.only_these_train": ("ожидалось, что обучаются только {names}, но у других тензоров ({count} шт.) "
                              "requires_grad=True (первый: {first}): выключите requires_grad у всех остальных"),
    "lab2.frozen_wrong": "ожидалось, что {names} обучаются, но {first} заморожен: включите у них requires_grad",
    "lab2.trainable_ok": "обучаемых параметров: {trainable:,} из {total:,} ({names})",
    "lab2.loop_return": "ожидалось, что train_one_epoch вернёт (mean_loss, accuracy), получено {got!r}",
    "lab2.never_called_forward": "модель ни разу не вызвана: сделайте прямой проход на каждом батче",
    "lab2.train_mode": ("во время обучения модель должна быть в режиме train, а была в eval: "
                        "сначала вызовите model.train()"),
    "lab2.steps": ("ожидался один optimizer.step() на батч (всего {want}), получено {got}: вызывайте step() ровно "
                   "один раз внутри цикла по батчам"),
    "lab2.accumulate": ("ожидалось, что каждый шаг использует градиент только своего батча, а градиенты "
                        "накапливаются между батчами: вызывайте optimizer.zero_grad() перед прямым проходом на "
                        "каждом батче"),
    "lab2.loss_fall": ("ожидалось, что средний loss снизится за 8 эпох на обучаемой игрушечной задаче, получено "
                       "{first:.3f} → {last:.3f} (усредняется ли loss по примерам?)"),
    "lab2.acc_fraction": ("ожидалась accuracy как доля в [0, 1], получено {acc}: делите число верных ответов на "
                          "число примеров"),
    "lab2.params_differ": ("после {epochs} эпох параметры модели отличаются от эталонного цикла (max |diff| {diff:.3g}): "
                           "на каждом батче по одному разу zero_grad, прямой проход, criterion(outputs, labels), "
                           "backward и step"),
    "lab2.loss_mean": ("ожидался средний loss эпохи {epoch} {want:.4f}, получено {got:.4f}: накапливайте "
                       "loss.item() × размер батча и делите на число примеров"),
    "lab2.train_ok": ("режим train, zero_grad и один шаг на батч; loss на игрушечной задаче {first:.3f} → "
                      "{last:.3f}, accuracy {acc:.0%}"),
    "lab2.eval_return": "ожидалось, что evaluate вернёт (mean_loss, accuracy, метки, вероятности класса 1)",
    "lab2.never_called": "модель ни разу не вызвана",
    "lab2.eval_never_called": "ожидался прямой проход модели на каждом батче loader, а модель ни разу не вызвана",
    "lab2.eval_mode": "при оценке ожидался режим eval, а был train: сначала вызовите model.eval()",
    "lab2.eval_no_grad": "при оценке градиенты не должны отслеживаться: оберните цикл в torch.no_grad()",
    "lab2.eval_changed": ("ожидалось, что оценка не меняет параметры, а они изменились: в evaluate не должно быть "
                          "backward() и optimizer.step()"),
    "lab2.eval_labels": ("ожидались истинные метки ({n} шт.) в порядке loader'а в виде массива NumPy, получена "
                         "форма {shape}: добавляйте в all_labels labels.cpu().numpy() каждого батча"),
    "lab2.eval_probs": ("ожидались вероятности класса 1, по одной на пример, получено другое: добавляйте в "
                        "all_probs torch.softmax(outputs, dim=1)[:, 1].cpu().numpy()"),
    "lab2.eval_loss": ("ожидался средний loss {want:.4f} (взвешенный по размеру батча), получено {got:.4f}: "
                       "накапливайте loss.item() × размер батча и делите на число примеров"),
    "lab2.eval_acc": ("ожидалась accuracy {want:.4f}, получено {got:.4f}: сравнивайте argmax логитов по dim 1 с "
                      "метками и делите на число примеров"),
    "lab2.eval_ok": "режим eval, no_grad, loss {loss:.3f} и accuracy {acc:.0%} совпадают, вероятностей: {n}",
    "lab2.groups": ("ожидались 2 группы параметров (layer4, fc), получено {got}: передайте в Adam список из двух "
                    "словарей с ключами \"params\" и \"lr\""),
    "lab2.group_members": ("ожидались одна группа ровно с параметрами model.layer4 и одна — с параметрами "
                           "model.fc, получено другое деление: params первой — model.layer4.parameters(), второй — "
                           "model.fc.parameters()"),
    "lab2.group_lrs": ("ожидался lr {backbone:g} для layer4 и {head:g} для fc, получено {got}: не перепутайте "
                       "backbone_lr и head_lr"),
    "lab2.optimizer_ok": "2 группы: layer4 lr {backbone:g}, fc lr {head:g}",
    "lab2.pair": "ожидалась пара (sensitivity, specificity), получено {got!r}: верните кортеж из двух чисел",
    "lab2.sens_spec": ("для y_true={y}..., y_pred={p}... ожидалось ({sens:.3f}, {spec:.3f}), получено "
                       "({got_sens:.3f}, {got_spec:.3f}): положительный класс 1 (болен), матрица [[TN, FP], [FN, "
                       "TP]] — проверьте, не перепутаны ли FN и FP или порядок пары"),
    "lab2.sens_ok": "проверено случаев: {n}, все совпадают с TP/(TP+FN) и TN/(TN+FP)",
    "lab2.weights": ("для количеств {counts} ожидалось {want}, получено {got}: вес класса c — N / (K · N_c), где K "
                     "= num_classes"),
    "lab2.weights_ok": "совпадает с n_samples / (n_classes · count) для сбалансированных и несбалансированных меток",
    "lab2.cam_model_avg": "узкая ResNet-18 (каналов в 8 раз меньше)",
    "lab2.cam_model_max": "узкая ResNet-18 (каналов в 8 раз меньше) с max-pooling в голове",
    "lab2.cam_hooks": ("после вызова на модели остались хуки ({modules}): снимайте их "
                       "(handle.remove()) в блоке finally, иначе они срабатывают при каждом следующем проходе"),
    "lab2.cam_shape": ("ожидалась карта размера изображения {size} (тензор H × W), получено {got!r}: растяните "
                       "карту F.interpolate до image.shape[-2:]"),
    "lab2.cam_finite": "в карте есть NaN или бесконечности: проверьте деление при нормировке",
    "lab2.cam_range": ("ожидалась карта, нормированная в [0, 1], получены значения от {lo:.3g} до {hi:.3g}: "
                       "вычтите минимум и разделите на максимум"),
    "lab2.cam_norelu": ("{model}, класс {target}: карта совпадает с Grad-CAM без ReLU — примените ReLU к "
                        "взвешенной сумме активаций, чтобы остались только области «за» класс"),
    "lab2.cam_noavg": ("{model}, класс {target}: градиенты умножены на активации поэлементно — веса "
                       "каналов α_k — это градиенты, усреднённые по пространству (mean по H и W)"),
    "lab2.cam_layer3": ("{model}, класс {target}: карта совпадает с Grad-CAM по layer3 — хуки нужны на "
                        "model.layer4"),
    "lab2.cam_argmax": ("{model}, класс {target}: карта построена для предсказанного класса, а не для "
                        "target_class — берите градиент логита logits[0, target_class]"),
    "lab2.cam_sum": ("{model}, класс {target}: карта построена по сумме логитов всех классов — берите "
                     "градиент только логита logits[0, target_class]"),
    "lab2.cam_differs": ("{model}, класс {target}: карта отличается от pytorch-grad-cam (среднее |разн.| "
                         "{mean:.3f}, максимум {top:.3f} после нормировки в [0, 1]): сверьте шаги 1–5 — хуки на "
                         "layer4, градиент логита target_class, среднее по H и W, ReLU, интерполяция и нормировка"),
    "lab2.cam_ok": ("совпадает с pytorch-grad-cam на {n} моделях (среднее |разн.| ≤ {mean:.3f}), "
                    "хуков не осталось"),

    "lab2.loop_what_loss": "средний loss",
    "lab2.loop_what_acc": "долю верных ответов (accuracy)",
    "lab2.loop_tensor": "train_one_epoch вернула {what} тензором ({got}), а ожидалось число float: {fix}",
    "lab2.loop_not_number": "train_one_epoch вернула {what} типа {got}, а ожидалось число float: {fix}",
    "lab2.loop_fix_loss": ("прибавляйте к сумме число loss.item() × размер батча, а не сам тензор loss (в сумме "
                           "копится граф вычислений, и ячейка с кривыми обучения дальше упадёт)"),
    "lab2.loop_fix_acc": "считайте верные ответы числом: (предсказания == метки).sum().item()",
    "lab2.step_before_backward": ("optimizer.step() вызван до loss.backward(): шаг идёт без градиентов своего "
                                  "батча (на первом батче параметры не меняются). Ожидался порядок на каждом "
                                  "батче: zero_grad() → прямой проход → loss → loss.backward() → optimizer.step()"),
    "lab2.no_backward": ("loss.backward() ни разу не вызван, а ожидался на каждом батче перед optimizer.step(): "
                         "без него у шага нет градиентов, и параметры не обучаются"),
    "lab2.zero_before_step": ("optimizer.zero_grad() вызван между loss.backward() и optimizer.step(): шаг "
                              "получает обнулённые градиенты, и параметры не обучаются. Обнуляйте градиенты "
                              "до прямого прохода: zero_grad() → прямой проход → loss → loss.backward() → "
                              "optimizer.step()"),
    "lab2.adam": "ожидался torch.optim.Adam, как требует задание, получено {got}: верните torch.optim.Adam с двумя группами",
    "lab2.sens_one_class_error": ("на батче только из больных (y_true = y_pred = {y}) функция упала: {error}. "
                                  "Без labels=[0, 1] confusion_matrix на таком батче даёт матрицу 1 × 1, а не "
                                  "2 × 2: передайте labels=[0, 1]"),
    "lab2.sens_one_class": ("на батче только из больных (y_true = y_pred = {y}) ожидалась чувствительность 1.000 "
                            "(найдены все), получено {got:.3f}: передайте confusion_matrix labels=[0, 1], чтобы "
                            "матрица всегда была 2 × 2 ([[TN, FP], [FN, TP]])"),
    "lab2.weights_absent": ("для num_classes={k}, когда класс {absent} не встретился (количества {counts}), "
                            "ожидалось {k} весов, получено {got}: torch.bincount без minlength возвращает "
                            "меньше чисел — передайте minlength=num_classes"),
    "lab2.weights_type": ("ожидался тензор torch с плавающей точкой (его принимает nn.CrossEntropyLoss(weight=...)), "
                          "получено {got}: верните torch.Tensor типа float (например, через .float())"),
    "lab2.cam_frozen_body": " с замороженным телом (обучается только fc)",
    "lab2.cam_frozen_error": ("{model}: функция упала — {error}. У модели с замороженным телом градиент не "
                              "доходит до layer4, и backward hook не срабатывает, если вход не требует "
                              "градиента: подавайте image.unsqueeze(0).clone().requires_grad_(True)"),
    "lab2.cam_not_tensor": ("ожидался тензор torch (H × W), получено {got}: раздел 12.1 вызывает у карты "
                            ".cpu() и .numpy() — верните тензор"),
    "lab2.cam_attached": ("карта ещё связана с графом вычислений (requires_grad=True), а ожидался отсоединённый "
                          "тензор: раздел 12.1 вызывает .numpy() и упадёт — возьмите .detach() у активаций "
                          "и градиентов (или у карты) перед вычислениями"),

    # ---------------------------------------------------------------- Lab 3 checks
    "lab3.not_tensor": "ожидался тензор (есть ли ToTensor в цепочке преобразований?), получено {got}",
    "lab3.tensor_shape": ("ожидался тензор формы (3, {size}, {size}), получено {got}: первым шагом "
                          "Resize((IMAGE_SIZE, IMAGE_SIZE)), затем ToTensor"),
    "lab3.not_normalized": ("ожидались нормализованные значения (mean/std ImageNet), получены значения в [0, 1]: "
                            "добавьте Normalize"),
    "lab3.transform_diff": ("ожидалось Resize → ToTensor → Normalize(mean/std ImageNet), получено max |diff| "
                            "{diff:.3g}: проверьте порядок шагов и статистики IMAGENET_MEAN и IMAGENET_STD"),
    "lab3.transform_ok": "тензор ({channels}, {size}, {size}), нормализованный статистиками ImageNet",
    "lab3.predict_return": "ожидалось, что predict вернёт пару (y_true, y_pred): верните два массива",
    "lab3.numpy": "ожидались массивы NumPy, получены {a} и {b}: склейте списки через np.concatenate",
    "lab3.no_grad": "градиенты не должны отслеживаться: выполняйте цикл внутри torch.no_grad()",
    "lab3.true_labels": ("ожидались истинные метки ({n} шт.) в порядке loader'а, получена форма {shape}: "
                         "добавляйте labels.numpy() каждого батча"),
    "lab3.argmax": ("ожидались предсказания = индексы максимального логита, получено другое: берите второй элемент "
                    "torch.max(outputs, 1)"),
    "lab3.predict_ok": "режим eval, no_grad, метки и предсказания ({n} шт.) — массивы NumPy",
    "lab3.case_batch": "батча [4, 3, 8, 8]",
    "lab3.case_image": "одного изображения [3, 8, 8]",
    "lab3.denorm_shape": ("для {case} ожидался тензор той же формы, получено {got}: приведите mean и std к форме "
                          "(3, 1, 1)"),
    "lab3.swapped": "для {case}: mean и std перепутаны; denormalize — это x * std + mean",
    "lab3.not_inverse": ("для {case}: ожидалось denormalize(normalize(x)) == x, получено max |diff| {diff:.3g} "
                         "(умножьте на std, затем прибавьте mean, по каждому каналу)"),
    "lab3.denorm_ok": "denormalize(normalize(x)) == x для батча и для одного изображения",
    "lab3.stages": ("ожидались стадии 50-слойной сети [3, 4, 6, 3], получено {got}: постройте resnext50_32x4d из "
                    "torchvision"),
    "lab3.cardinality": ("ожидалась кардинальность 32 с 4 каналами на группу в layer1 (32x4d), получено: групп "
                         "{groups}, каналов в группе {width}: постройте resnext50_32x4d из torchvision"),
    "lab3.fc": "ожидалось fc = Linear(2048, {n}), получено {got}: замените model.fc на nn.Linear(2048, {n})",
    "lab3.resnext_ok": "ResNeXt-50 32x4d: стадии {stages}, 32 группы × 4 канала, fc = Linear(2048, {n})",

    "lab3.resize_pair": ("для неквадратного изображения {h}×{w} ожидался тензор (3, {size}, {size}), получено "
                         "{got}: Resize с одним числом меняет только меньшую сторону, сохраняя пропорции, — "
                         "задайте пару Resize(({size}, {size}))"),

    # ---------------------------------------------------------------- Lab 4 checks
    "lab4.head": ("{arch}: ожидалось {name} = Linear({inp}, {n}), получено {got}: поставьте на это место новый "
                  "nn.Linear"),
    "lab4.output": ("{arch}: ожидалась форма выхода (2, {n}), получено {got}: у новой головы должно быть "
                    "num_classes выходов"),
    "lab4.same_model": ("{arch}/{strategy}: ожидалось, что apply_strategy вернёт ту же модель, которую изменила: "
                        "верните model"),
    "lab4.strategy_item": "{arch}/{strategy} {count:,}",
    "lab4.strategies_ok": "обучаемые параметры: {summary}",
    "lab4.adam": "ожидался torch.optim.Adam, получено {got}: создайте torch.optim.Adam",
    "lab4.opt_params": ("ожидалось, что в оптимизаторе ровно обучаемые тензоры модели ({want} шт.), получено {got} "
                        "(передайте [p for p in model.parameters() if p.requires_grad])"),
    "lab4.lr": "ожидался lr 0.0001, получено {got}: передайте lr в Adam",
    "lab4.scheduler": ("ожидался CosineAnnealingLR с T_max = epochs = 15, получено {got} (T_max={tmax}): создайте "
                       "CosineAnnealingLR(optimizer, T_max=epochs)"),
    "lab4.optimizer_ok": "Adam по обучаемым тензорам ({n} шт.), lr 1e-4, CosineAnnealingLR(T_max=15)",
    "lab4.picked_test": ("ожидался выбор по accuracy на валидации, а выбран запуск с лучшей accuracy на тесте "
                         "(тестовую выборку нельзя смотреть, пока выбор не сделан)"),
    "lab4.pick_wrong": ("ожидался запуск 'c' (наибольшая val acc 0.95, затем меньше обучаемых параметров), "
                        "получено {got!r}: выбирайте по best_val_acc, при равенстве — меньше params['trainable']"),
    "lab4.pick_ok": "выбирает по accuracy на валидации, при равенстве — модель с меньшим числом обучаемых параметров",
    "lab4.onnx_diff": ("ожидалось max |ONNX − PyTorch| = {want:.2e} на батче из трёх изображений, получено "
                       "{got!r}: верните float(np.abs(выход ONNX − выход PyTorch).max()) на переданном батче"),
    "lab4.onnx_other": ("для модели PyTorch, у которой bias отличается на 1, ожидалась разница около 1, "
                        "получено {got!r}; сравнивайте выход onnxruntime с выходом переданной модели"),
    "lab4.onnx_ok": ("onnxruntime и PyTorch на трёх изображениях: max |diff| {diff:.1e}; "
                     "изменённая модель обнаруживается"),
    "lab4.model_names": ("{arch}: имена параметров отличаются от {arch} из torchvision с новой головой: "
                         "не хватает {missing}, лишние {extra} (замените только голову, остальное не трогайте)"),
    "lab4.model_shapes": ("{arch}: формы параметров отличаются от {arch} из torchvision с новой головой: у {name} "
                          "получено {got}, ожидалось {want} (замените только голову)"),
    "lab4.model_output": ("{arch}: с теми же весами, что у {arch} из torchvision с новой головой, выход отличается "
                          "на {diff:.2e} (make_model должна вернуть эту архитектуру, заменив только голову)"),
    "lab4.pick_wrong_run": ("ожидался запуск {want!r} (наибольшая val acc {acc}, затем меньше обучаемых "
                            "параметров), получено {got!r}: выбирайте по best_val_acc, при равенстве — меньше "
                            "params['trainable']"),

    "lab4.all_train": ("ожидалось, что обучаются все параметры, но заморожено тензоров: {count} (первый: {first}): "
                       "включите requires_grad у каждого параметра модели, не полагаясь на то, что оставила "
                       "прошлая стратегия"),
    "lab4.unknown_arch_accepted": ("make_model({arch!r}, {n}) вернула модель ({got}), а ожидалась ошибка "
                                   "ValueError: для архитектуры, кроме resnet50 и efficientnet_b0, вызовите raise "
                                   "ValueError с понятным текстом"),
    "lab4.unknown_arch_error": ("make_model({arch!r}, {n}) подняла {error}, а ожидалась ValueError: для "
                                "неизвестной архитектуры вызовите raise ValueError с понятным текстом"),
    "lab4.unknown_arch_ok": "; make_model({arch!r}) → ValueError",
    "lab4.onnx_eval": ("модель PyTorch считала в режиме train, а ожидался eval: Dropout и BatchNorm при обучении "
                       "дают другой выход, чем экспортированная модель, — вызовите model.eval() перед прямым "
                       "проходом"),
    "lab4.onnx_no_grad": ("прямой проход PyTorch шёл с градиентами, а ожидался без них: выполняйте его внутри "
                          "torch.no_grad()"),

    # ---------------------------------------------------------------- runtime
    "runtime.smoke_value": ("{var}={value!r} не распознано: {var}=1 — демо-режим smoke, "
                            "{var}=0 (или переменная не задана) — настоящие данные."),
    "runtime.smoke_notice": "[РЕЖИМ SMOKE] {message}",
    "runtime.mode_smoke": ("РЕЖИМ SMOKE ({var}=1): синтетические данные вместо настоящих, случайные веса, "
                           "несколько батчей. Числа ниже показывают, что код работает, а не насколько хорош метод."),
    "runtime.mode_full": ("Полный режим: настоящие датасеты и веса ImageNet "
                          "(для быстрой демонстрации: SMOKE = True в первой ячейке или {var}=1)."),
    "dogs.attached_short": "в {folder} {n} снимков вида <wnid>_<номер>.jpg, а нужно не меньше {want}",
    "hosted.where_colab": "Среда: Google Colab.",
    "hosted.where_kaggle": ("Среда: Kaggle. Подключённые датасеты читаются из /kaggle/input (только чтение), "
                            "всё, что ноутбук пишет, — в /kaggle/working."),
    "hosted.where_local": "Среда: ваш компьютер или копия репозитория курса.",
    "hosted.no_drive": ("Данные — в /content/data: Colab стирает их в конце сеанса, и архивы скачаются "
                        "заново. Чтобы хранить их на Google Диске, поставьте USE_DRIVE = True в первой "
                        "ячейке и запустите её ещё раз."),
    "hosted.data": "Папка данных: {folder}",
    "hosted.device": "Устройство: {device}. Точность: {precision}",
    "hosted.input_found": "Найдена копия {what} среди подключённых датасетов: {path}",
    "hosted.input_rejected": "Копия {what} в {path} не подошла и пропущена: {reason}",
    "runtime.no_cuda": "Запрошено устройство {device!r} ({var}), но CUDA недоступна.",
    "runtime.no_mps": "Запрошено устройство {device!r} ({var}), но Apple MPS недоступен.",
    "runtime.redirect": ("Папка данных {root} недоступна для записи (общая копия только для чтения): "
                         "распакованные архивы, разбиения, заглушки smoke и результаты запусков пишутся в {cache}. "
                         "Другую папку для них задаёт переменная {var}."),
    "runtime.no_writable": ("Нельзя записать ни в {path}, ни в {cache}: задайте в {var} папку, "
                            "доступную вам для записи."),
    "runtime.lock_wait": "Другой процесс уже готовит {what}; жду, пока он закончит (блокировка {lock})...",
    "cifar100.folder_rejected": ("Папка {folder} не прошла проверку torchvision (контрольные суммы MD5 файлов) "
                              "и не используется."),
    "cifar100.set_aside": "Повреждённая папка {folder} переименована в {aside} (ничего не удалено).",
    "cifar100.extracting": "Распаковка {archive} в {dest} (архив сохраняется)...",

    # ---------------------------------------------------------------- models
    "models.no_weights": "у {arch} нет весов {weights!r}; выберите одни из {names}",
    "models.random_weights": "{arch}: СЛУЧАЙНЫЕ веса вместо весов ImageNet {weights}.",
    "models.loaded": "{arch}: веса ImageNet {weights} загружены из {path}",

    # ---------------------------------------------------------------- data, metrics, features
    "data.shape": "ожидались изображения формы [C, H, W] или [N, C, H, W] с C={channels}, получено {shape}",
    "metrics.square": "ожидалась квадратная матрица по числу классов ({n}), получена форма {shape}",
    "features.progress": "признаки",

    # ---------------------------------------------------------------- datasets
    "imagefolder.report_counts": "{root}: {counts} (всего изображений: {n})",
    "imagefolder.report_skipped": "пропущено файлов: {n}; ничего не удалено:",
    "imagefolder.unreadable": "не читается как изображение (файл повреждён или это другой формат с расширением картинки)",
    "imagefolder.undecodable": "не декодируется ({error}); файл повреждён или обрезан",
    "imagefolder.folder_missing": "папки с изображениями {root} нет (ожидалась структура {root}/<класс>/<изображения>)",
    "imagefolder.no_classes": "в {root} нет подпапок классов (ожидалась структура {root}/<класс>/<изображения>)",
    "imagefolder.class_missing": "папки класса {folders} нет (ожидались классы {classes})",
    "imagefolder.no_extension": "нет",
    "imagefolder.not_image_file": "не файл изображения (расширение {ext!r})",
    "imagefolder.class_empty": "в папке класса {folder} нет читаемых изображений",
    "imagefolder.image_read": ("не удаётся прочитать изображение {path}: {error}. Файл повреждён или обрезан; "
                            "уберите его из папки датасета (ничего не удалено) и запустите снова."),
    "imagefolder.not_caching": ("Изображения ({n} шт.) не кешируются в памяти: нужно около {need:,.0f} МиБ, "
                             "бюджет {budget:,.0f} МиБ; изображения декодируются при каждом обращении."),
    "imagefolder.progress_caching": "кеширование изображений",
    "imagefolder.too_large": ("слишком большое изображение ({error}); Pillow не открывает такие, "
                              "защищаясь от «бомбы распаковки»"),
    "imagefolder.image_too_large": ("не удаётся открыть изображение {path}: {error}. Оно слишком большое для Pillow "
                                    "(защита от «бомбы распаковки»); уберите его из папки датасета "
                                    "(ничего не удалено) и запустите снова."),
    "imagefolder.macos_file": "служебный файл macOS, не изображение",
    "imagefolder.macos_folder": "служебная папка macOS, не изображения",
    "imagefolder.report_more": "  … и ещё {n} (полный список: .skipped)",
    "imagefolder.grouped_count": "grouped_split: примеров {n}, а групп {groups}; нужна одна группа на каждый пример",
    "imagefolder.grouped_fraction": "grouped_split: val_fraction должен быть в (0, 0.5], получено {fraction}",
    "imagefolder.grouped_few": ("grouped_split: групп {groups} — этого мало для {folds} фолдов "
                             "(val_fraction={fraction}); нужно больше пациентов"),
    "chest_xray.source_argument": "аргумент",
    "chest_xray.not_xray": ("{root} (источник: {source}) — не папка с рентгеновскими снимками: ожидались "
                          "{root}/train/NORMAL и {root}/train/PNEUMONIA, как в копии chest_xray/ с Kaggle "
                          "или в распакованном ChestXRay2017.zip"),
    "chest_xray.standin": ("рентгеновские снимки: СИНТЕТИЧЕСКИЕ изображения-заменители в {root} (серые полосы, "
                              "по несколько снимков на пациента с именами файлов как у Kermany, дисбаланс классов "
                              "как в настоящем наборе), а не настоящие рентгенограммы."),
    "chest_xray.extracting": "Распаковка папки chest_xray/ из {archive} в {dest} (архив сохраняется)...",
    "chest_xray.unnamed_none": "Номер пациента найден в имени каждого файла.",
    "chest_xray.unnamed_count": ("Файлов без номера пациента в имени: {n}; каждый считается отдельным пациентом "
                               "(если это копии снимков, их пациента разбиение не видит):"),
    "chest_xray.unnamed_more": "  … и ещё {n} (полный список — второй результат chest_xray_patients)",
    "cifar100.unknown_classes": "это не классы CIFAR-100: {names}",
    "cifar100.standin": ("CIFAR-100: СИНТЕТИЧЕСКАЯ замена (100 классов, полосы 32×32), "
                               "а не настоящие фотографии."),
    "dogs.report": "пригодных изображений: {total}, пород: {breeds} → {processed}",
    "dogs.skipped": "пропущено файлов: {n} (исходные файлы сохранены):",
    "dogs.too_small": "слишком маленькое ({width}×{height} < {side}×{side})",
    "dogs.exists": ("{processed} уже существует, но содержит другое разбиение; "
                             "переместите эту папку, чтобы подготовить данные заново"),
    "dogs.standin": ("Stanford Dogs: СИНТЕТИЧЕСКИЙ архив-заменитель в {base} (5 пород + 1 лишняя), "
                              "а не настоящие фотографии."),
    "dogs.extracting": "Распаковка пород ({n} шт.) из {archive} (архив сохраняется)...",

    # ---------------------------------------------------------------- standins
    "standins.label": "метка {label} вне диапазона 0..{last}",
    "standins.not_ours": ("в {root} уже есть файлы, которые не являются заменителем labutils; синтетические "
                          "изображения туда не записываются. Выберите другую папку или перенесите свои данные."),
    "standins.mode": "mode должен быть 'RGB' или 'L', получено {mode!r}",
    "standins.size_range": "size_range должен удовлетворять 8 <= min <= max, получено {got}",
    "chest_xray.patients": "patients должен задавать 'NORMAL' и 'PNEUMONIA' (в этом порядке), получено {got}",
    "chest_xray.per_patient": "images_per_patient должен удовлетворять 1 <= min <= max, получено {got}",

    # ---------------------------------------------------------------- registry, fetch, archives
    "registry.size_mb": "{mb:,.1f} МБ",
    "registry.size_approx": "~{mb:,.0f} МБ",
    "registry.size_unknown": "размер неизвестен",
    "registry.unknown": "{name!r} нет в реестре; известные имена: {known}",
    "registry.not_zip": "это не полный zip-архив ({error})",
    "registry.no_jpegs": "в архиве нет изображений .jpeg в {folders}; это не ChestXRay2017.zip",
    "registry.weights_description": "веса ImageNet {weights} (torchvision)",
    "registry.description.chest_xray": ("рентгеновские снимки грудной клетки (пневмония), ChestXRay2017.zip "
                                        "(Kermany et al. 2018, Mendeley Data, CC BY 4.0)"),
    "registry.description.cifar100": ("CIFAR-100, версия для Python (Krizhevsky 2009); архив, который читает "
                                      "torchvision.datasets.CIFAR100"),
    "registry.description.stanford_dogs": ("изображения Stanford Dogs (Khosla et al. 2011), 120 пород; "
                                           "лабораторная 4 распаковывает пять"),
    "fetch.size_mismatch": ("{path}: размер {size:,} байт, а для {name!r} ожидалось {want:,} "
                            "(файл обрезан или это не тот файл)"),
    "fetch.checksum_mismatch": ("{path}: {algo} {got}... не совпадает с {want}, записанным для {name!r} "
                                "(файл повреждён или скачан не полностью)"),
    "fetch.content": "{path}: {error} (запись реестра {name!r})",
    "fetch.manual_help": (
        "  - На машине с интернетом выполните `python -m labutils.fetch {name}` и скопируйте\n"
        "    {dest} в то же место здесь (или укажите в LABUTILS_DATA папку, в которой есть {subdir}/).\n"
        "  - Или скачайте {url} сами и сохраните как {dest}.\n"
        "  - Чтобы попробовать ноутбук без настоящих файлов, запустите его с {smoke}=1 "
        "(синтетические данные, случайные веса)."
    ),
    "fetch.set_aside": "{reason}\n  Файл сохранён как {aside}; скачиваю свежую копию.",
    "fetch.offline_value": ("{var}={value!r} не распознано: {var}=1 запрещает загрузки, "
                            "{var}=0 (или переменная не задана) — разрешает."),
    "fetch.offline": ("{name!r} ({size}) нужно скачать, но {var}=1 запрещает загрузки. Файла нет: {dest}\n"
                      "  - На машине с интернетом выполните `python -m labutils.fetch {name}` и скопируйте "
                      "{dest} в то же место здесь (или укажите в LABUTILS_DATA папку, в которой есть {subdir}/).\n"
                      "  - На Kaggle подключите к ноутбуку датасет с этим файлом (Add Input).\n"
                      "  - Или уберите {var}, чтобы скачать его с {url}."),
    "fetch.cannot_download": "Не удалось скачать {name!r} ({size}) с {url}: {error}\n{help}",
    "fetch.broke_off": "Загрузка {name!r} с {url} оборвалась после {size:,} байт: {error}\n{help}",
    "fetch.ignoring": "{error}\n  Этот файл пропущен.",
    "fetch.shared_bad": ("{reason}\n  Этот файл лежит в общей папке данных {folder}, а она доступна только для "
                         "чтения: он оставлен как есть (ни заменить, ни переименовать его отсюда нельзя). "
                         "Сообщите преподавателю или администратору класса, что его нужно скачать заново "
                         "(python -m labutils.fetch {name} от имени того, кто может писать в эту папку).\n  {then}"),
    "fetch.shared_using": "Пока используется проверенная копия из вашего личного кэша: {path}.",
    "fetch.shared_fetching": "Пока скачиваю свежую копию в ваш личный кэш (LABUTILS_CACHE): {path}.",
    "fetch.shared_failed": "Скачать свежую копию в ваш личный кэш тоже не удалось:\n{error}",
    "fetch.cli_description": ("Заранее скачать датасеты и веса ImageNet курса в data/ "
                              "(для классов без интернета)."),
    "fetch.cli_names": "имена из реестра (см. --list)",
    "fetch.cli_all": "скачать все записи реестра",
    "fetch.cli_list": "показать записи реестра и выйти",
    "fetch.cli_dest": "папка данных (по умолчанию data/ или $LABUTILS_DATA)",
    "fetch.cli_entry": "{name:18} {kind:8} лаб. {labs:5} {size:>10}  {description}",
    "fetch.cli_unknown": "неизвестные имена: {names}; известные: {known}",
    "fetch.cli_ok": "готово  {name}: {path}",
    "fetch.cli_fail": "ОШИБКА  {name}: {error}",
    "fetch.cli_summary": "скачано: {ok}, с ошибкой: {failed}",
    "fetch.cli_summary_names": "скачано: {ok}, с ошибкой: {failed} ({names})",
    "archives.outside": ("{archive}: элемент {name!r} был бы записан вне целевой папки; "
                         "ничего не распаковано"),
    "archives.exists": "{dest} уже существует; удалите или переименуйте его, чтобы распаковать заново",
    "archives.symlink": "{archive}: элемент {name!r} — символическая ссылка; ничего не распаковано",
    "archives.bad_zip": "{archive}: {error}; скачайте архив заново (python -m labutils.fetch)",
    "archives.special": "{archive}: элемент {name!r} — ссылка или специальный файл; ничего не распаковано",
    "archives.damaged": ("{archive}: элемент {name!r} повреждён или архив обрезан ({error}); ничего не распаковано; "
                         "скачайте архив заново (python -m labutils.fetch)"),
    "archives.unreadable": ("{archive}: архив не читается, он повреждён или обрезан ({error}); ничего не распаковано; "
                            "скачайте его заново (python -m labutils.fetch)"),
    "archives.leftover_removed": "Удалена папка, оставшаяся от прерванной распаковки: {path}",
    "archives.macos_skipped": ("{archive}: служебные файлы macOS не распакованы ({n}: .DS_Store, ._*, "
                               "__MACOSX/): {names}{more}"),
    "archives.macos_more": " … и ещё {n}",
    "fetch.stale_part": "Удалён недокачанный файл прерванной загрузки: {path} ({mb:,.1f} МБ)",
    "fetch.kept_aside": ("Повреждённый архив сохранён как {aside}; следующий запуск "
                         "(или python -m labutils.fetch {name}) скачает его заново."),
    "registry.bad_member": "элемент {member!r} повреждён ({error}); архив скачан не полностью или испорчен",

    # ---------------------------------------------------------------- training
    "training.n_steps": "n_steps должно быть не меньше 1, получено {n}",
    "training.hours": "{hours} ч {minutes:02d} мин",
    "training.minutes": "{minutes} мин {seconds:02d} с",
    "training.seconds": "{seconds:.1f} с",
    "training.milliseconds": "{ms:.3g} мс",
    "training.frozen_bn": ("frozen_bn должен быть 'eval' (замороженные слои BatchNorm сохраняют накопленные "
                           "статистики) или 'train' (поведение PyTorch по умолчанию: каждый BatchNorm следует "
                           "model.train()), получено {got!r}"),
    "inference.tie": ("{a} и {b}: ничья по задержке — межквартильные интервалы пересекаются "
                      "({a_q1:.1f}–{a_q3:.1f} и {b_q1:.1f}–{b_q3:.1f} мс)"),
    "inference.faster": ("{fast} быстрее, чем {slow}, в {ratio:.1f} раза: медиана {fast_ms:.1f} против {slow_ms:.1f} мс "
                         "(межквартильные интервалы не пересекаются)"),
    "training.needs_scaler": ("{device}: быстрый путь выбрал здесь float16, а run_epoch вызван для обучения без "
                              "аргумента scaler; без масштабирования потерь малые градиенты во float16 обращаются в ноль. Передайте "
                              "scaler=torch.amp.GradScaler(\"cuda\") (так делает fit) или amp=False"),
    "training.loader": "loader",
    "training.no_batches": "«{what}»: DataLoader не выдал ни одного батча; не пуст ли датасет?",
    "training.resume_mismatch": ("{checkpoint} обучен с frozen_bn={saved!r}, а этот вызов просит "
                                 "frozen_bn={asked!r}; передайте то же значение или удалите {run_dir}, "
                                 "чтобы обучить заново"),
    "training.resuming": "Продолжаю {run} с контрольной точки после эпохи {epoch}.",
    "training.progress_train": "обучение",
    "training.progress_val": "валидация",
    "training.bad_json": "{path} — некорректный JSON ({error}); удалите его, чтобы заново запустить этот эксперимент",
    # the grader: grade.* from labutils.checks.protocol's grading half, integrity.* from labutils.grader.integrity
    "grade.name_missing": "в блокноте нет {name} (NameError): задание не выполнено или ячейка с ним не запускается",
    "grade.malformed": "Задание {task}: данные проверки испорчены (не того вида, что отдаёт проба грейдера)",
    "grade.malformed_detail": "Задание {task}: данные проверки испорчены ({error})",
    "integrity.copy": ("{name} (ячейка {cell}) использует готовую реализацию {used}: задание требует "
                       "написать это самостоятельно — 0 баллов за задание"),
    "integrity.custom_exc": "ячейка {cell}, строка {line}: скрывает ошибки через set_custom_exc",
    "integrity.events": "ячейка {cell}, строка {line}: регистрирует обработчики событий IPython",
    "integrity.signals": "ячейка {cell}, строка {line}: посылает или перехватывает сигналы процессов",
    "integrity.processes": "ячейка {cell}, строка {line}: запускает процессы вне сессии ядра (fork/setsid)",
    "integrity.ctypes": "ячейка {cell}, строка {line}: импортирует ctypes",
    "integrity.sys_modules": "ячейка {cell}, строка {line}: подменяет модули или импорт (sys.modules, sys.meta_path)",
    "integrity.builtins": "ячейка {cell}, строка {line}: подменяет встроенные функции Python",
    "integrity.patch": "ячейка {cell}, строка {line}: меняет объекты библиотек (labutils, torch, json, importlib …)",
    "integrity.frames": "ячейка {cell}, строка {line}: смотрит на стек вызовов (inspect.stack, sys._getframe, f_back …)",
    "integrity.tracing": "ячейка {cell}, строка {line}: ставит трассировку или профилировщик (settrace, setprofile …)",
    "integrity.threads": "ячейка {cell}, строка {line}: запускает потоки (threading.Thread, Timer …)",
    "integrity.dynamic_code": "ячейка {cell}, строка {line}: выполняет код из строки (exec, eval, compile, run_cell)",
    "integrity.dynamic_import": "ячейка {cell}, строка {line}: импортирует модуль по вычисленному имени",
    "integrity.copy_source": ("{name} (ячейка {cell}) почти дословно повторяет код {source} из torchvision "
                              "(совпадает {share:.0%} фрагментов после замены имён)"),
    # labutils.stats
    "stats.points": " п.п.",
    "stats.tie": ("{metric}: ничья между «{a}» и «{b}» — разница {signed}{unit}, а {level}%-й бутстрэп-интервал "
                  "[{low}; {high}]{unit} содержит ноль: данные не различают варианты"),
    "stats.better": ("{metric}: «{better}» лучше, чем «{worse}», на {diff}{unit} ({level}%-й бутстрэп-интервал "
                     "разницы [{low}; {high}]{unit} не содержит ноль)"),
    # labutils.fastpath
    "fastpath.bad_env": "{var}={value!r} не распознано: используйте {var}=1 (по умолчанию) или {var}=0",
    "fastpath.contiguous": "обычная раскладка памяти",
    "fastpath.on": ("Быстрый путь на {device}: autocast {dtype} + {layout} (выключить: {var}=0; "
                    "сравнение с float32 на одной и той же задаче: python -m labutils.bench)"),
    "fastpath.float32": "{device}: float32 + {layout} (autocast выключен; всё выключить: {var}=0)",
    "fastpath.cpu_no_bf16": ("На этом CPU нет аппаратного bfloat16: обучение в float32 + {layout} "
                             "(выключить и это: {var}=0)"),
    "fastpath.off_env": "Быстрый путь выключен ({var}=0): {device}, float32, обычная раскладка памяти",
    "fastpath.cuda_no_scaler": ("{device}: float32 + {layout} в вашем цикле: у этой GPU нет аппаратного bfloat16, "
                                "а float16 без GradScaler теряет малые градиенты (всё выключить: {var}=0)"),
    "fastpath.fp16_without_scaler": ("{device}: autocast здесь был бы float16 (аппаратного bfloat16 нет), а float16 "
                                     "без GradScaler теряет малые градиенты: передайте scaler=True и обучайте "
                                     "с torch.amp.GradScaler или оставьте amp=\"auto\" (float32)"),
    # labutils.rehearse: the full-mode dress rehearsal (instructors; its banner shows in the rehearsal's kernels)
    "rehearse.banner": ("[РЕПЕТИЦИЯ] Прогон полного режима на подставных данных (python -m labutils.rehearse): "
                        "{files} подставных файлов (архивы и веса со случайной инициализацией) принимаются без "
                        "совпадения контрольной суммы — только в этом ядре, запущенном репетицией. float32 "
                        "принудительно: {fp32}; крошечный бюджет (1 эпоха): {tiny}. Точность моделей здесь "
                        "ничего не значит, важны время, память и то, что каждая строка выполняется."),
    "rehearse.bypass_marker": "[РЕПЕТИЦИЯ] Контрольная сумма не совпала",
    "rehearse.bypass_used": ("[РЕПЕТИЦИЯ] Контрольная сумма не совпала: файл принят как подставной файл "
                             "репетиции (те самые байты, что она записала): {path}"),
    "rehearse.cli_description": ("Репетиция полного режима: подставные данные реальной структуры (и при --scale full "
                                 "реального объёма), каждый ноутбук из solutions/ целиком с LABUTILS_SMOKE=0, "
                                 "отчёт о времени, памяти и диске"),
    "rehearse.cli_scale": "tiny — несколько снимков на класс и одна эпоха (минуты); full — реальные объёмы",
    "rehearse.cli_lab": "только эта лабораторная (01-04); можно несколько раз; по умолчанию все",
    "rehearse.cli_out": "папка для данных, отчёта и выполненных ноутбуков (по умолчанию новая временная)",
    "rehearse.cli_precision": ("auto — как у студента на этом процессоре; fp32 — bfloat16 выключен (float32 + "
                               "channels_last), как на процессоре без bfloat16"),
    "rehearse.cli_workers": "процессов для создания подставных снимков",
    "rehearse.cli_timeout": "предел времени одной ячейки, секунд",
    "rehearse.not_ours": ("Папка {data} не пуста и создана не репетицией: репетиция удаляет в ней всё, кроме "
                          "своих подставных файлов. Укажите в --out новую или пустую папку."),
    "rehearse.building": "Создаю подставные данные (масштаб {scale}) в {data} ...",
    "rehearse.built": "Подставных файлов: {n}, {mb:.0f} МБ; создание заняло {s} с (в время лабораторных не входит).",
    "rehearse.running": "Лабораторная {lab}: выполняю {notebook} в полном режиме ...",
    "rehearse.written": "Отчёт: {path}",
    "rehearse.lab_failed": "Лабораторная {lab} остановилась на ячейке {cell}:\n{error}",
    "rehearse.col_lab": "лаб.",
    "rehearse.col_status": "итог",
    "rehearse.col_wall": "всего, мин:с",
    "rehearse.col_pss": "пик памяти, ГиБ",
    "rehearse.col_disk": "записано, МиБ",
    "rehearse.phase.preparation": "данные",
    "rehearse.phase.caching": "кэш",
    "rehearse.phase.training": "обучение",
    "rehearse.phase.evaluation": "оценка",
    "rehearse.phase.analysis": "анализ/экспорт",
    "rehearse.machine": ("Машина: {cpu}, ядер {cores}, bfloat16 в железе: {bf16}; масштаб {scale}, точность "
                         "{precision}; средняя загрузка {load} (чужие процессы замедляют каждый замер)"),
    "rehearse.ok": "ок",
    "rehearse.failed": "ошибка в ячейке {cell}",
    "rehearse.slowest": "Лаб. {lab}, самые долгие ячейки: {cells}",
    # labutils.grader.feedback: what a student reads of the grading (no instructor-only details)
    "feedback.title": "Результаты проверки: {lab}",
    "feedback.lab.01": "Лабораторная работа 1. Остаточные сети (ResNet)",
    "feedback.lab.02": "Лабораторная работа 2. Здоров или болен: дообучение ResNet-18 на рентгенограммах",
    "feedback.lab.03": "Лабораторная работа 3. Дообучение предобученной ResNeXt на CIFAR-100",
    "feedback.lab.04": "Лабораторная работа 4. Заморозить, разморозить частично или дообучить всё",
    "feedback.lab_unknown": "лабораторная не распознана",
    "feedback.file": "Файл: {file}",
    "feedback.points": "Баллы: {points} из {max_points}",
    "feedback.col_task": "Задание",
    "feedback.col_points": "Баллы",
    "feedback.col_verdict": "Вердикт",
    "feedback.errors": "Ошибки при выполнении блокнота",
    "feedback.error_line": "ячейка {cell} (считая сверху с 1): {ename}: {evalue}",
    "feedback.no_errors": "Ошибок при выполнении нет.",
    "feedback.status.timeout": ("Блокнот не успел выполниться за отведённое время, задания после остановки не "
                                "оценены: найдите долгую ячейку, проверьте, что блокнот целиком проходит "
                                "«Restart & Run All», и сдайте его снова."),
    "feedback.status.crashed": ("Выполнение блокнота аварийно прервалось (ядро остановилось: например, не хватило "
                                "памяти или код завершил процесс): проверьте, что блокнот целиком проходит "
                                "«Restart & Run All», и сдайте его снова."),
    "feedback.status.invalid": ("Файл не читается как блокнот Jupyter: сдайте файл .ipynb, сохранённый из "
                                "Jupyter, без ручной правки."),
    "feedback.status.unknown-lab": ("Не удалось определить, какая это лабораторная: сдайте выданный в курсе блокнот "
                                    "под его исходным именем."),
    "feedback.status.error": ("Проверка не состоялась по технической причине на стороне курса; это не ваша "
                              "ошибка, преподаватель проверит работу заново."),
}
