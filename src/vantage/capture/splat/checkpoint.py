"""Training checkpoints: parameters, optimizer and strategy state, RNG and step, saved atomically.

A checkpoint is one ``torch.save`` file written to a temporary name beside the target, synced and
renamed over it, so a crash mid-write leaves the previous checkpoint intact. It records the names
of the images it was trained on and refuses to resume a run on other images.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from vantage.capture.splat.gaussians import Gaussians
from vantage.errors import InvalidInputError

FORMAT = "vantage.splat.checkpoint/1"


@dataclass(frozen=True)
class Checkpoint:
    """The state a training run resumes from."""

    step: int  # steps done
    params: dict[str, torch.nn.Parameter]
    optimizers: dict[str, dict[str, Any]]  # optimizer state dicts by parameter name
    strategy_state: dict[str, Any]
    psnr_initial: float
    rng_state: Tensor
    cuda_rng_states: list[Tensor]  # empty without CUDA


def save_checkpoint(
    path: Path,
    step: int,
    gaussians: Gaussians,
    optimizers: dict[str, torch.optim.Optimizer],
    strategy_state: dict[str, Any],
    psnr_initial: float,
    names: list[str],
) -> None:
    """Write the training state to ``path`` atomically."""
    payload = {
        "format": FORMAT,
        "step": step,
        "params": {name: param.detach() for name, param in gaussians.params.items()},
        "optimizers": {name: optimizer.state_dict() for name, optimizer in optimizers.items()},
        "strategy_state": strategy_state,
        "psnr_initial": psnr_initial,
        "rng_state": torch.get_rng_state(),
        "cuda_rng_states": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "names": list(names),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("wb") as file:
        torch.save(payload, file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def load_checkpoint(path: Path, device: torch.device, names: list[str]) -> Checkpoint | None:
    """The state saved at ``path`` (None if there is no file), checked against ``names``."""
    if not path.exists():
        return None
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # torch raises many kinds for a truncated or foreign file
        raise InvalidInputError(
            f"cannot read the training checkpoint: {error}", path=str(path)
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InvalidInputError("the file is not a splat training checkpoint", path=str(path))
    if payload["names"] != list(names):
        raise InvalidInputError("the training checkpoint was made for other images", path=str(path))
    return Checkpoint(
        step=int(payload["step"]),
        params={name: torch.nn.Parameter(t) for name, t in payload["params"].items()},
        optimizers=payload["optimizers"],
        strategy_state=payload["strategy_state"],
        psnr_initial=float(payload["psnr_initial"]),
        rng_state=payload["rng_state"].cpu(),
        cuda_rng_states=[state.cpu() for state in payload.get("cuda_rng_states", [])],
    )
