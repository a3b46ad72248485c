"""The message tables: one per language, the same keys and placeholders, switched by LABUTILS_LANG."""
import pytest

from labutils import messages
from labutils.messages import en, placeholders, ru, t, task_label, task_number


def test_tables_have_the_same_keys():
    assert set(ru.MESSAGES) == set(en.MESSAGES), sorted(set(ru.MESSAGES) ^ set(en.MESSAGES))


def test_each_key_has_the_same_placeholders_in_both_languages():
    differ = {key: (placeholders(ru.MESSAGES[key]), placeholders(en.MESSAGES[key]))
              for key in ru.MESSAGES if placeholders(ru.MESSAGES[key]) != placeholders(en.MESSAGES.get(key, ""))}
    assert not differ, differ


def test_placeholders_compare_names_conversions_and_specs():
    assert placeholders("{a} {b!r} {c:.3f}") == {("a", "", ""), ("b", "r", ""), ("c", "", ".3f")}
    assert placeholders("{a}") != placeholders("{a:,}")


def test_russian_tables_are_russian_and_english_ones_english():
    """Every Russian template with words holds Cyrillic, unless it is pure notation shared by both."""
    import re

    for key, text in ru.MESSAGES.items():
        words = re.sub(r"\{[^}]*\}", "", text)
        if text != en.MESSAGES[key] and re.search(r"[A-Za-z]{3,}", en.MESSAGES[key]):
            assert re.search("[а-яА-ЯёЁ]", words), (key, text)
    for key, text in en.MESSAGES.items():
        assert not re.search("[а-яА-ЯёЁ]", text), (key, text)


def test_language_is_read_at_call_time(monkeypatch):
    monkeypatch.delenv("LABUTILS_LANG", raising=False)
    assert messages.language() == "ru"
    assert t("lab2.never_called") == "модель ни разу не вызвана"
    monkeypatch.setenv("LABUTILS_LANG", "en")
    assert t("lab2.never_called") == "the model was never called"
    monkeypatch.setenv("LABUTILS_LANG", " RU ")
    assert t("lab2.never_called") == "модель ни разу не вызвана"
    monkeypatch.setenv("LABUTILS_LANG", "")
    assert messages.language() == "ru"


def test_unknown_language_names_the_variable(monkeypatch):
    monkeypatch.setenv("LABUTILS_LANG", "de")
    with pytest.raises(ValueError, match="LABUTILS_LANG='de'"):
        t("lab2.never_called")


def test_unknown_key_is_named():
    with pytest.raises(KeyError, match="no.such.key"):
        t("no.such.key")


def test_thousands_are_spaced_in_russian_and_decimals_use_a_dot(monkeypatch):
    monkeypatch.delenv("LABUTILS_LANG", raising=False)
    assert t("lab2.trainable_ok", trainable=1026, total=11_689_512, names="fc") == \
        "обучаемых параметров: 1 026 из 11 689 512 (fc)"
    assert t("imagefolder.not_caching", n=4, need=1234.5, budget=0.4).count("1 234") == 1
    assert t("training.seconds", seconds=12.46) == "12.5 с"
    monkeypatch.setenv("LABUTILS_LANG", "en")
    assert t("lab2.trainable_ok", trainable=1026, total=11_689_512, names="fc") == \
        "1,026 of 11,689,512 parameters train (fc)"


def test_task_labels(monkeypatch):
    monkeypatch.delenv("LABUTILS_LANG", raising=False)
    assert task_label("Task 1.1 ResidualBlock") == "Задание 1.1 ResidualBlock"
    assert task_label("Задание 1.1 ResidualBlock") == "Задание 1.1 ResidualBlock"
    assert task_label("Task 3.3 training loop") == "Задание 3.3 цикл обучения"
    assert task_label("Task 3.3") == "Задание 3.3"
    assert task_label("ResNet-18 = torchvision resnet18") == "ResNet-18 = torchvision resnet18"
    monkeypatch.setenv("LABUTILS_LANG", "en")
    assert task_label("Задание 3.3 training loop") == "Task 3.3 training loop"
    assert task_label("Task 4.2 apply_strategy (resnet50, freeze)") == "Task 4.2 apply_strategy (resnet50, freeze)"
    assert task_number("Задание 1.3: впишите решение") == "1.3"
    assert task_number("Task 1.3 (ResNet._make_layer) — build the stage") == "1.3"
    assert task_number("shapes do not match") is None
