"""Published figures (``reports/published.yaml``) and the table that sets them beside this pipeline's measurements.

Each :class:`PublishedFigure` is one number from a paper or a model card, with
its source and where in the source it stands. A figure that could not be found
has ``value: None`` and says where it was looked for; the table prints "not
found" for it. The measured side comes from the typed evaluation records.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import yaml
from pydantic import Field

from emopillars.benchmarks import METRIC_NAMES
from emopillars.contracts import Record, RecordError


class PublishedFigure(Record):
    system: str = Field(description="a peers-param name (hub id), or a system this pipeline trains")
    benchmark: str
    metric: str = Field(description="this project's metric the figure is compared with (emopillars.benchmarks)")
    published_metric: Optional[str] = Field(None, description="the metric as the source states it, when it differs")
    value: Optional[float] = Field(description="the published figure; null when it could not be found")
    split: str
    threshold: Optional[float] = Field(description="the decision threshold the source used, when it states one")
    protocol: str
    source: str = Field(description="URL of the source")
    where: str = Field(description="where in the source the figure stands, or where it was looked for")


class PublishedFigures(Record):
    figures: list[PublishedFigure]


def read_published(path: str | os.PathLike) -> PublishedFigures:
    """The figures file, validated; a bad entry fails naming the file and the field (``figures.3.value``)."""
    path = Path(path)
    if not path.is_file():
        raise RecordError(f"{path}: published-figures file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise RecordError(f"{path}: not valid YAML ({e})") from None
    figures = PublishedFigures.parse(data, path)
    for i, f in enumerate(figures.figures):
        if f.metric not in METRIC_NAMES:
            raise RecordError(f"{path}: figures.{i}.metric: unknown metric {f.metric!r}; expected one of "
                              f"{', '.join(METRIC_NAMES)}")
    return figures
