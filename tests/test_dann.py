"""helpers.dann: the data, the model and lesson 07's two training steps, which train the same model."""

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers.compare import collect_grads, compare_gradients
from helpers.dann import (
    STEPS,
    Domains,
    History,
    accuracy,
    domain_loss,
    label_loss,
    lambda_schedule,
    make_batches,
    make_domains,
    make_model,
    make_moons,
    one_pass_step,
    rotate,
    train,
    two_pass_step,
)

ROOT = Path(__file__).resolve().parent.parent


def test_make_moons_shapes_labels_and_determinism():
    x, y = make_moons(101, noise=0.0, generator=torch.Generator().manual_seed(0))
    assert x.shape == (101, 2) and x.dtype == torch.float32 and y.dtype == torch.long
    assert int((y == 0).sum()) == 50 and int((y == 1).sum()) == 51
    outer = x[y == 0]
    assert torch.allclose(outer.norm(dim=1), torch.ones(50), atol=1e-6)  # the unit half circle
    assert bool((outer[:, 1] >= -1e-6).all())
    inner = x[y == 1]
    assert torch.allclose((inner - torch.tensor([1.0, 0.5])).norm(dim=1), torch.ones(51), atol=1e-6)
    a = make_moons(64, 0.1, torch.Generator().manual_seed(3))
    b = make_moons(64, 0.1, torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], make_moons(64, 0.1, torch.Generator().manual_seed(4))[0])


@pytest.mark.parametrize("n, noise, match", [(1, 0.1, "n must"), (2.5, 0.1, "n must"), (True, 0.1, "n must"),
                                             (10, -0.1, "noise must"), (10, "0.1", "noise must")])
def test_make_moons_bad_inputs(n, noise, match):
    with pytest.raises(ValueError, match=match):
        make_moons(n, noise)


def test_rotate_about_the_centre():
    p = torch.tensor([[1.5, 0.25], [0.5, 0.25]])
    q = rotate(p, 90.0)
    assert torch.allclose(q, torch.tensor([[0.5, 1.25], [0.5, 0.25]]), atol=1e-6)  # anticlockwise
    x, _ = make_moons(50, 0.1, torch.Generator().manual_seed(0))
    c = torch.tensor([0.5, 0.25])
    assert torch.allclose((rotate(x, 35.0) - c).norm(dim=1), (x - c).norm(dim=1), atol=1e-5)
    assert torch.allclose(rotate(rotate(x, 35.0), -35.0), x, atol=1e-5)
    with pytest.raises(ValueError, match="points must"):
        rotate(torch.zeros(3, 3), 10.0)
    with pytest.raises(TypeError, match="degrees"):
        rotate(x, "10")


def test_domains_and_batches():
    dom = make_domains(n=128, angle=35.0, seed=0)
    assert isinstance(dom, Domains)
    assert repr(dom) == ("Domains(source: 128 labelled points, target: 128 points rotated by 35°, "
                         "its labels for evaluation only)")
    assert not torch.equal(dom.xs, dom.xt)
    a, b = make_batches(dom, 3, 16, seed=1), make_batches(dom, 3, 16, seed=1)
    assert len(a) == 3 and a[0].xs.shape == (16, 2) and a[0].ys.shape == (16,) and a[0].xt.shape == (16, 2)
    assert all(torch.equal(u.xs, v.xs) and torch.equal(u.xt, v.xt) for u, v in zip(a, b))
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="steps"):
            make_batches(dom, bad)
        with pytest.raises(ValueError, match="batch_size"):
            make_batches(dom, 2, bad)


def test_model_is_made_from_its_seed():
    a, b, c = make_model(seed=0), make_model(seed=0), make_model(seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.g[0].weight, c.g[0].weight)
    big = make_model(hidden=8, d_width=16, d_depth=3)
    assert [m.out_features for m in big.d if isinstance(m, torch.nn.Linear)] == [16, 16, 16, 1]
    assert big(torch.zeros(5, 2)).shape == (5,)


def test_losses_and_schedule():
    logits = torch.tensor([[0.0], [2.0], [-1.0]])
    assert math.isclose(float(label_loss(logits, torch.tensor([1, 1, 0]))),
                        (math.log(2) + math.log(1 + math.exp(-2)) + math.log(1 + math.exp(-1))) / 3, rel_tol=1e-6)
    # the first row is source (0), the others target (1)
    assert math.isclose(float(domain_loss(logits, 1)),
                        (math.log(2) + math.log(1 + math.exp(-2)) + math.log(1 + math.exp(1))) / 3, rel_tol=1e-6)
    assert lambda_schedule(0.0) == 0.0
    assert math.isclose(lambda_schedule(0.5), 2 / (1 + math.exp(-5)) - 1)
    assert 0.9999 < lambda_schedule(1.0) < 1.0
    for bad in (-0.1, 1.5, "0.5", True):
        with pytest.raises(ValueError, match="progress"):
            lambda_schedule(bad)


def one_step_grads(step, lam):
    dom = make_domains(n=64, seed=0)
    model = make_model(seed=0)
    step(model, torch.optim.SGD(model.parameters(), lr=0.0), make_batches(dom, 1, 16, seed=2)[0], lam)
    return collect_grads(model)


@pytest.mark.parametrize("lam", [0.0, 0.37, 1.0])
def test_one_step_gives_the_same_gradients(lam):
    cmp = compare_gradients({n: one_step_grads(s, lam) for n, s in STEPS.items()}, reference="two-pass")
    assert cmp.close["one-pass"], cmp.table()
    grads = one_step_grads(one_pass_step, lam)
    assert all(float(v.abs().sum()) > 0 for k, v in grads.items() if k.startswith("d."))  # d learns


def test_the_two_steps_train_the_same_model_and_adaptation_helps():
    dom = make_domains(n=256, seed=0)
    batches = make_batches(dom, 150, 64, seed=0)
    runs = {}
    for name, step in STEPS.items():
        model = make_model(seed=0)
        history = train(step, model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), batches,
                        record_params=True)
        runs[name] = (model, history)
    a, b = runs["two-pass"][1], runs["one-pass"][1]
    assert isinstance(a, History) and a.params.shape[0] == 150
    assert float((a.params - b.params).abs().max()) < 1e-4
    assert float((a.params[-1] - a.params[0]).abs().max()) > 0.1
    assert re.fullmatch(r"History\(150 steps: label loss \d\.\d\d, domain loss \d\.\d\d at the end\)", repr(a))
    plain = make_model(seed=0)
    train(one_pass_step, plain, torch.optim.SGD(plain.parameters(), lr=0.05, momentum=0.9), batches, adapt=False)
    assert accuracy(runs["one-pass"][0], dom.xt, dom.yt) > accuracy(plain, dom.xt, dom.yt) + 0.05


def test_train_and_accuracy_bad_inputs():
    model = make_model(seed=0)
    with pytest.raises(TypeError, match="step must be a function"):
        train("one-pass", model, torch.optim.SGD(model.parameters(), lr=0.1), [])
    with pytest.raises(ValueError, match="differ in length"):
        accuracy(model, torch.zeros(4, 2), torch.zeros(3, dtype=torch.long))
    assert accuracy(model, torch.zeros(4, 2), (model(torch.zeros(4, 2)) > 0).long()) == 1.0


def test_steps_are_the_lesson_functions():
    assert STEPS == {"two-pass": two_pass_step, "one-pass": one_pass_step}


def test_benchmark_quick_runs_and_reports_the_ratio():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "train_step.py"), "--quick", "--repeat", "3"],
                         capture_output=True, text=True, check=True, cwd=ROOT, timeout=300).stdout
    lines = out.strip().splitlines()
    assert lines[0].startswith("cpu (1 thread)") and "threads pinned to 1" in lines[0]
    assert re.fullmatch(r"one-pass step time ratio: \d+\.\d{3}", lines[-1]), lines[-1]
    rows = [line.split() for line in lines[2:6]]
    assert [(r[0], r[1]) for r in rows] == [("two-pass", "small"), ("one-pass", "small"),
                                          ("two-pass", "large"), ("one-pass", "large")]
    saved_ratio = {(r[0], r[1]): float(r[-1]) for r in rows}  # bytes depend only on shapes: exact
    assert saved_ratio[("two-pass", "large")] == 1.0
    assert 0.5 < saved_ratio[("one-pass", "large")] < 0.6


def test_forward_with_features_and_step_saved_bytes():
    from helpers.dann import step_saved_bytes

    model = make_model(seed=0)
    x = torch.randn(5, 2)
    h, logits = model(x, with_features=True)
    assert torch.equal(logits, model(x)) and torch.equal(h, model.g(x))
    batch = make_batches(make_domains(n=64, seed=0), steps=1, batch_size=16, seed=0)[0]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    two = step_saved_bytes(two_pass_step, model, optimizer, batch, 0.5)
    one = step_saved_bytes(one_pass_step, model, optimizer, batch, 0.5)
    assert one[0] < two[0] and one[1] == two[1] and not model.d._forward_hooks
