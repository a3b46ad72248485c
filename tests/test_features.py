"""The feature cache trains the same head as running the frozen backbone every epoch."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision import transforms
from torchvision.models import resnet18

from labutils.imagefolder import ImageListDataset, scan_image_folder
from labutils.features import extract_features
from labutils.standins import make_image_folder


def _train_head(head, loader, backbone=None, epochs=3):
    opt = torch.optim.SGD(head.parameters(), lr=0.05, momentum=0.9)
    for _ in range(epochs):
        for x, y in loader:
            feats = x if backbone is None else backbone(x)
            loss = nn.functional.cross_entropy(head(feats), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return head


def test_cached_features_give_the_same_head(tmp_path):
    root = make_image_folder(tmp_path / "xray", {"NORMAL": 6, "PNEUMONIA": 18}, mode="L", size_range=(40, 60))
    scan = scan_image_folder(root)
    tf = transforms.Compose([transforms.Grayscale(3), transforms.Resize((32, 32)), transforms.ToTensor()])
    ds = ImageListDataset(scan.samples, scan.classes, tf, mode="L")

    torch.manual_seed(0)
    backbone = resnet18(num_classes=2)
    backbone.fc = nn.Identity()
    for p in backbone.parameters():
        p.requires_grad_(False)
    backbone.eval()  # a frozen backbone runs in eval mode: BatchNorm uses running statistics
    init = nn.Linear(512, 2).state_dict()

    def head():
        h = nn.Linear(512, 2)
        h.load_state_dict(init)
        return h

    direct = _train_head(head(), DataLoader(ds, batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(1)),
                         backbone=backbone)
    feats, labels = extract_features(backbone, DataLoader(ds, batch_size=8), progress=False)
    assert feats.shape == (24, 512) and labels.tolist() == ds.targets
    cached = _train_head(head(), DataLoader(TensorDataset(feats, labels), batch_size=8, shuffle=True,
                                            generator=torch.Generator().manual_seed(1)))
    for key in init:
        torch.testing.assert_close(cached.state_dict()[key], direct.state_dict()[key], atol=1e-5, rtol=1e-5)
    assert not backbone.training

    # The equivalence needs eval mode: with batch statistics the backbone's outputs change per batch.
    backbone.train()
    with torch.no_grad():
        x = torch.stack([ds[i][0] for i in range(8)])
        assert not torch.allclose(backbone(x), feats[:8], atol=1e-4)
