"""helpers.gan: the tiny GAN of lesson 03 and the parameter snapshot."""

import pytest
import torch

from helpers.gan import all_changed, make_gan, snapshot


def test_same_seed_same_weights():
    G1, D1, _, _ = make_gan()
    G2, D2, opt_g, opt_d = make_gan()
    for a, b in zip([*G1.parameters(), *D1.parameters()], [*G2.parameters(), *D2.parameters()]):
        assert torch.equal(a, b)
    assert opt_g.param_groups[0]["params"][0] is G2[0].weight
    assert G2(torch.zeros(3, 4)).shape == (3, 4) and D2(torch.zeros(3, 4)).shape == (3, 1)


def test_all_changed():
    G, _, opt_g, _ = make_gan()
    before = snapshot(G)
    assert not all_changed(G, before)
    G(torch.ones(2, 4)).sum().backward()
    opt_g.step()
    assert all_changed(G, before)
    with torch.no_grad():
        G[0].weight.copy_(before[0])
    assert not all_changed(G, before)
    with pytest.raises(ValueError):
        all_changed(G, before[:1])
