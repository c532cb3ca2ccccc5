"""Neuron sets from neurons.json: the property neurons to protect, a group's neurons to erase."""

import json

import pytest

from speechneurons.neuron_sets import group_neurons, load_property_neurons, protected_neurons, sets_to_json

NEURONS = {
    1: {"layer": 1, "D": 64, "exclusive_group_neurons": {"gender": {"F": [1, 5], "M": [2, 3, 4]}}},
    2: {"layer": 2, "D": 64, "exclusive_group_neurons": {"gender": {"F": [], "M": [60]}}},
}


def test_group_neurons_reads_exclusive_sets():
    sets = group_neurons(NEURONS, "gender", "M")
    assert {k: v.tolist() for k, v in sets.items()} == {1: [2, 3, 4], 2: [60]}
    assert sets_to_json(sets) == {"1": [2, 3, 4], "2": [60]}
    with pytest.raises(KeyError, match="group"):
        group_neurons(NEURONS, "gender", "X")


def test_property_neuron_files(tmp_path):
    data = {"layer": 2, "D": 8, "property_neurons": {"phone_type": [1, 2], "gender": [2, 5], "pitch": []}}
    path = tmp_path / "neurons.json"
    path.write_text(json.dumps(data))
    neurons = load_property_neurons([path])
    assert protected_neurons(neurons) == {2: [1, 2, 5]}
    assert protected_neurons(neurons, ["gender"]) == {2: [2, 5]}
