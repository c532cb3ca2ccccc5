"""The shared figure helpers: atomic PNG output and the figure that says why it is empty."""

from PIL import Image

from speechneurons.plotting import save_unavailable


def test_an_unavailable_figure_is_a_png_that_says_why(tmp_path):
    path = tmp_path / "figures" / "pwcca_word.png"
    path.parent.mkdir()
    save_unavailable(path, "PWCCA with one-hot words", "view 'word': too few samples for PWCCA")
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size[0] > 100
    assert [p.name for p in path.parent.iterdir()] == ["pwcca_word.png"]  # no temporary left behind
