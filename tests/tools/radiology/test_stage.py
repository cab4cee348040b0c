"""The shared warm-up/polish stage runner: it trains what it is given, follows its schedule and
stops with a typed error at the first non-finite loss."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
import torch

from state.errors import ConfigError
from tools.radiology.stage import run_stage, stage_schedule


def _quadratic(weight: torch.nn.Parameter) -> Callable[[int], torch.Tensor]:
    return lambda _step: ((weight - 3.0) ** 2).sum()


def test_a_stage_trains_its_parameters_and_returns_every_loss() -> None:
    weight = torch.nn.Parameter(torch.zeros(2))
    losses = run_stage(
        "toy",
        "mse",
        [weight],
        _quadratic(weight),
        steps=200,
        learning_rate=0.1,
        weight_decay=0.0,
        grad_clip=10.0,
        console=None,
    )
    assert len(losses) == 200 and losses[-1] < 0.01 * losses[0]
    torch.testing.assert_close(weight.detach(), torch.full((2,), 3.0), atol=0.1, rtol=0)


def test_the_schedule_warms_up_over_2_percent_then_decays_to_a_tenth() -> None:
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = stage_schedule(optimizer, 100)
    rates = []
    for _ in range(100):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[0] == pytest.approx(0.5) and rates[1] == pytest.approx(1.0)
    assert rates[-1] == pytest.approx(0.1, abs=0.01)
    assert all(a >= b for a, b in itertools.pairwise(rates[1:]))


def test_a_non_finite_loss_or_bad_settings_are_config_errors() -> None:
    weight = torch.nn.Parameter(torch.zeros(2))
    losses = iter([torch.tensor(1.0, requires_grad=True), torch.tensor(float("nan"))])
    with pytest.raises(ConfigError, match="toy diverged at step 1"):
        run_stage(
            "toy",
            "mse",
            [weight],
            lambda _step: next(losses),
            steps=5,
            learning_rate=0.1,
            weight_decay=0.0,
            grad_clip=1.0,
            console=None,
        )
    for steps, lr, params in ((0, 0.1, [weight]), (5, 0.0, [weight]), (5, 0.1, [])):
        with pytest.raises(ConfigError):
            run_stage(
                "toy",
                "mse",
                params,
                _quadratic(weight),
                steps=steps,
                learning_rate=lr,
                weight_decay=0.0,
                grad_clip=1.0,
                console=None,
            )
