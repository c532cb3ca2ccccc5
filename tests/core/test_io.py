"""Atomic outputs: an interrupted write leaves no file that looks finished."""

import pandas as pd
import pytest

from speechneurons.io import atomic_dir, atomic_path, read_json, read_table, write_json, write_table


def test_atomic_path_renames_on_success(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("done")
        assert not target.exists()
        assert tmp.suffix == ".txt"
    assert target.read_text() == "done"
    assert list(target.parent.iterdir()) == [target]


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir(tmp_path):
    target = tmp_path / "d"
    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("x")
    assert (target / "a").read_text() == "x"
    with pytest.raises(KeyError), atomic_dir(tmp_path / "e") as tmp:
        raise KeyError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


@pytest.mark.parametrize("suffix", [".tsv", ".csv", ".parquet"])
def test_table_round_trip(tmp_path, suffix):
    df = pd.DataFrame({"utt_id": ["a", "b"], "x": [1.5, 2.0], "ok": [True, False]})
    write_table(df, tmp_path / f"t{suffix}")
    back = read_table(tmp_path / f"t{suffix}")
    pd.testing.assert_frame_equal(back, df, check_dtype=False)


def test_json_round_trip(tmp_path):
    import numpy as np

    write_json(tmp_path / "a.json", {"n": np.int64(3), "v": np.arange(2)})
    assert read_json(tmp_path / "a.json") == {"n": 3, "v": [0, 1]}


def test_remove_stale_temporaries_of_files_and_folders(tmp_path):
    from speechneurons.io import remove_stale_temporaries

    target = tmp_path / "mid[1].npy"  # glob metacharacters in the name are taken literally
    (tmp_path / ".mid[1].npy.abc.tmp.npy").write_bytes(b"x")
    (tmp_path / ".mid[1].npy.def.tmp").mkdir()
    (tmp_path / ".mid1.npy.abc.tmp.npy").write_bytes(b"x")  # another file's temporary
    removed = remove_stale_temporaries(target)
    assert len(removed) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [".mid1.npy.abc.tmp.npy"]
    assert remove_stale_temporaries(tmp_path / "nowhere" / "x.npy") == []


def test_load_rows_reads_row_blocks_without_a_memory_map(tmp_path):
    import numpy as np

    from speechneurons.io import DamagedFileError, load_rows, write_sidecar

    acts = np.arange(5 * 3 * 2, dtype=np.float16).reshape(10, 3)
    path = tmp_path / "mid.npy"
    np.save(path, acts)
    write_sidecar(path)
    rows = load_rows(path)
    assert rows.shape == (10, 3) and rows.dtype == np.float16 and len(rows) == 10 and rows.ndim == 2
    np.testing.assert_array_equal(rows[3:7], acts[3:7])
    np.testing.assert_array_equal(rows[8:20], acts[8:])  # past the end: as numpy slices
    np.testing.assert_array_equal(rows[4:6, [0, 2]], acts[4:6, [0, 2]])
    assert rows[5:5].shape == (0, 3)
    np.testing.assert_array_equal(rows[:], acts)
    with pytest.raises(TypeError, match="row blocks"):
        np.asarray(rows)  # a whole copy must be asked for: rows[:]
    with pytest.raises(TypeError, match="contiguous"):
        rows[np.array([1, 3])]
    path.write_bytes(path.read_bytes()[:-4])  # truncated: the sidecar catches it
    with pytest.raises(DamagedFileError):
        load_rows(path)
