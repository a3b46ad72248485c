"""Calibration cases for the similarity scan (tests/grader/test_similarity.py): several genuinely different
correct solutions of a few tasks, written independently, each the body of a ``### BEGIN SOLUTION`` region of
the solution notebook (the cell is found by the marker; a cell with two regions takes a list)."""

LAB2 = "02_chest_xray_finetuning"
LAB3 = "03_resnext_cifar100"
LAB1 = "01_residual_networks"

# marker of the solution cell -> {author: region bodies}
SOLUTIONS = {
    (LAB2, "def sensitivity_specificity"): {
        "confusion": ["""\
    tn, fp, fn, tp = confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    return tp / (tp + fn), tn / (tn + fp)
"""],
        "masks": ["""\
    truth = np.asarray(y_true).astype(bool)
    guess = np.asarray(y_pred).astype(bool)
    found_ill = np.count_nonzero(truth & guess)
    missed_ill = np.count_nonzero(truth & ~guess)
    calm_healthy = np.count_nonzero(~truth & ~guess)
    alarmed_healthy = np.count_nonzero(~truth & guess)
    sensitivity = found_ill / (found_ill + missed_ill)
    specificity = calm_healthy / (calm_healthy + alarmed_healthy)
    return sensitivity, specificity
"""],
        "loop": ["""\
    counts = {(1, 1): 0, (1, 0): 0, (0, 0): 0, (0, 1): 0}
    for actual, predicted in zip(y_true, y_pred):
        counts[(int(actual), int(predicted))] += 1
    sens = counts[(1, 1)] / (counts[(1, 1)] + counts[(1, 0)])
    spec = counts[(0, 0)] / (counts[(0, 0)] + counts[(0, 1)])
    return sens, spec
"""],
    },
    (LAB2, "def class_weights"): {
        "confusion": ["""\
    counts = torch.bincount(torch.as_tensor(targets), minlength=num_classes).float()
    return len(targets) / (num_classes * counts)
"""],
        "masks": ["""\
    per_class = torch.zeros(num_classes)
    for label in targets:
        per_class[int(label)] += 1
    total = per_class.sum()
    return total / (per_class * num_classes)
"""],
        "loop": ["""\
    from sklearn.utils.class_weight import compute_class_weight
    present = np.arange(num_classes)
    w = compute_class_weight("balanced", classes=present, y=np.asarray(list(targets)))
    return torch.tensor(w, dtype=torch.float32)
"""],
    },
    (LAB3, "def denormalize"): {
        "confusion": ["""\
    mean = torch.as_tensor(mean, dtype=tensor.dtype, device=tensor.device).view(3, 1, 1)
    std = torch.as_tensor(std, dtype=tensor.dtype, device=tensor.device).view(3, 1, 1)
    return tensor * std + mean
"""],
        "masks": ["""\
    result = tensor.clone()
    for channel in range(3):
        result[..., channel, :, :] = result[..., channel, :, :] * std[channel] + mean[channel]
    return result
"""],
        "loop": ["""\
    s = tensor.new_tensor(std)[:, None, None]
    m = tensor.new_tensor(mean)[:, None, None]
    return torch.addcmul(m, tensor, s)
"""],
    },
    (LAB1, "class ResidualBlock"): {
        "confusion": ["""\
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride,
                               padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=1,
                               padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
""", """\
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)
"""],
        "masks": ["""\
        def conv3x3(cin, cout, s):
            return nn.Conv2d(cin, cout, 3, s, 1, bias=False)

        self.conv1 = conv3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.conv2 = conv3x3(out_channels, out_channels, 1)
        self.bn2 = nn.BatchNorm2d(out_channels)
""", """\
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.conv1(x)
        y = self.bn1(y)
        y = self.relu(y)
        y = self.conv2(y)
        y = self.bn2(y)
        return self.relu(y + shortcut)
"""],
        "loop": ["""\
        layers = {}
        for i, (cin, s) in enumerate([(in_channels, stride), (out_channels, 1)], start=1):
            layers[f"conv{i}"] = nn.Conv2d(cin, out_channels, kernel_size=(3, 3), stride=s, padding=(1, 1),
                                           bias=False)
            layers[f"bn{i}"] = nn.BatchNorm2d(out_channels)
        self.conv1, self.bn1 = layers["conv1"], layers["bn1"]
        self.relu = nn.ReLU(inplace=False)
        self.conv2, self.bn2 = layers["conv2"], layers["bn2"]
""", """\
        main = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        side = self.downsample(x) if self.downsample else x
        return torch.relu(main + side)
"""],
    },
}

# A copy of the "masks" solutions with every local name renamed and the two functions of Lab 2 swapped
# (the copier put class_weights first, in the same cell as sensitivity_specificity).
COPY_LAB2 = '''\
def class_weights(labels_list, n_cls):
    ### BEGIN SOLUTION
    hist = torch.zeros(n_cls)
    for lbl in labels_list:
        hist[int(lbl)] += 1
    n_all = hist.sum()
    return n_all / (hist * n_cls)
    ### END SOLUTION


def sensitivity_specificity(gt, pr):
    ### BEGIN SOLUTION
    a = np.asarray(gt).astype(bool)
    b = np.asarray(pr).astype(bool)
    hits = np.count_nonzero(a & b)
    misses = np.count_nonzero(a & ~b)
    quiet = np.count_nonzero(~a & ~b)
    false_alarms = np.count_nonzero(~a & b)
    se = hits / (hits + misses)
    sp = quiet / (quiet + false_alarms)
    return se, sp
    ### END SOLUTION


checks.check_sensitivity_specificity(sensitivity_specificity)
checks.check_class_weights(class_weights)
'''
