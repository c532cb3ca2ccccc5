"""The numbers of Lin et al. (SLT 2024, arXiv 2409.05910) this workflow is compared with:
MelHuBERT (12 layers, D = 3072 FFN neurons per layer) on LibriSpeech dev-clean."""

REFERENCE_D = 3072
REFERENCE_LAYERS = 12

#: property neurons per layer, layers 1-12
REFERENCE_COUNTS = {
    "phone_type": (375, 310, 298, 242, 194, 210, 234, 242, 269, 265, 250, 115),
    "gender": (278, 135, 49, 23, 22, 25, 30, 12, 11, 37, 99, 151),
    "pitch": (190, 109, 34, 27, 18, 25, 27, 11, 12, 20, 53, 97),
}

#: pairwise overlaps of the property-neuron sets at layer 1
REFERENCE_OVERLAPS_LAYER1 = {
    "overlap_gender_pitch": 140,
    "overlap_phone_type_gender": 59,
    "overlap_phone_type_pitch": 64,
    "overlap_all": 45,
}

#: silhouette of P(j | c, g) by gender group at layers 1 and 12 (near 0 in the middle)
REFERENCE_SILHOUETTE_GENDER = {1: 0.41, 12: 0.36}

#: pruning to about 577 FFN rows per layer: unpruned / protect / norm
REFERENCE_PRUNING_SPARSITY = 1 - 577 / REFERENCE_D
REFERENCE_PRUNING = {
    "phone": {"metric": "PER (CTC, %)", "unpruned": 8.17, "protect": 10.66, "norm": 12.03},
    "sid": {"metric": "SID accuracy (%)", "unpruned": 63.96, "protect": 58.89, "norm": 50.84},
    "f0": {"metric": "log-F0 MSE", "unpruned": 0.296, "protect": 0.272, "norm": 0.282},
}

#: change of SID error (points) after erasing one gender's neurons: erased -> scored -> delta
REFERENCE_ERASURE_GENDER = {"M": {"M": 18.58, "F": 4.10}, "F": {"M": 2.24, "F": 22.43}}

#: change of phone-class error (points) on the erased type itself; other cells within +-0.24
REFERENCE_ERASURE_PHONE_TYPE_DIAGONAL = {"vowel": 0.88, "voiced_consonant": 0.25, "unvoiced_consonant": 0.54}
REFERENCE_ERASURE_PHONE_TYPE_OFF_DIAGONAL_MAX = 0.24
