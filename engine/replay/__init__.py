"""Replay and what-if: run history through a baseline and a candidate configuration in batch, and compare.

`inputs` reads the event log (generated folder, ETL output, Handbook file) in bounded chunks with the history the
velocity windows need; `decide` is the Polars twin of the live decision flow; `run` drives both configurations over
the chunks; `report`, `html` and `tune` turn the result into the analysts' diff, plots and threshold suggestions.
"""

from engine.replay.config import Config, load_config
from engine.replay.run import ReplayResult, replay

__all__ = ["Config", "ReplayResult", "load_config", "replay"]
