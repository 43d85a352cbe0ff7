"""Video: frame post-processing (finishing) and encoding/decoding with PyAV."""
