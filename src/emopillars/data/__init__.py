"""emopillars.data: datasets (materialisation, readers) and the benchmark label spaces.

* :mod:`~emopillars.data.materialize`: copy or download raw files into ``data/raw``, sha256-verified;
* :mod:`~emopillars.data.readers`: every benchmark -> ``{split: [EmotionRecord]}``, corpora -> ``[Narrative]``;
* :mod:`~emopillars.data.label_maps`: benchmark labels <-> the 28 GoEmotions classes.
"""
