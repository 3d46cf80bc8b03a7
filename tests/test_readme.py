"""The README's quick start runs as written."""
import pathlib
import re

README = pathlib.Path(__file__).parents[1] / "README.md"


def test_quick_start_runs(capsys):
    text = README.read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1
    namespace: dict = {}
    exec(compile(blocks[0], "README quick start", "exec"), namespace)
    assert capsys.readouterr().out.strip() == "torch.Size([100, 32])"
    model, image, text_feats = namespace["model"], namespace["image"], namespace["text"]
    gen = model.rf_generator
    assert gen.current_epoch == 3 and gen.train_mix_ratio == 0.1 and gen.inference_mix_ratio == 0.2
    # The final embeddings are the documented 80/20 mix of original and generated.
    import torch
    with torch.no_grad():
        cond = [model.image(image), model.text(text_feats)]
        gen_seeded = gen.generate(cond, generator=torch.Generator().manual_seed(0))
        mixed = gen.mix_embeddings(model.ids.weight, gen_seeded, training=False)
    torch.testing.assert_close(mixed, 0.8 * model.ids.weight + 0.2 * gen_seeded)
