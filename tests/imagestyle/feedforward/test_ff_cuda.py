"""The CUDA paths (bf16 autocast, channels-last, NCCL-free single GPU); skipped without a GPU."""

from __future__ import annotations

import pytest
import torch

from imagestyle.feedforward.modelfile import load_model
from imagestyle.feedforward.stylize import prepare_for_device, stylize_batch
from imagestyle.feedforward.train import train

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


@pytest.mark.parametrize("arch", ["johnson", "texture-net"])
def test_cuda_training_and_bf16_stylisation(make_config, arch):
    result = train(make_config(arch=arch, device="cuda", steps=3))
    assert result.step == 3 and all(torch.isfinite(torch.tensor(v["total"])) for v in result.losses)
    net, _ = load_model(result.model_path)
    cpu_out = stylize_batch(net, torch.rand(2, 3, 37, 29, generator=torch.Generator().manual_seed(0)),
                            generator=torch.Generator().manual_seed(1))
    gpu = prepare_for_device(net, torch.device("cuda"))
    x = torch.rand(2, 3, 37, 29, generator=torch.Generator().manual_seed(0)).cuda()
    out = stylize_batch(gpu, x, generator=torch.Generator().manual_seed(1))
    assert out.dtype == torch.float32 and out.shape == x.shape and out.device.type == "cuda"
    assert float((out.cpu() - cpu_out).abs().mean()) < 0.05  # bf16 agrees with float32 on average
