"""Decision support learned from case histories: next-best-action suggestions with reasons, remaining time.

Next-best-action modules: `eventlog` (reading logs, the chronological split, prefixes per variant), `features`
(prefix features), `ngram` (back-off n-gram), `nba` (the next-activity model), `remaining` (remaining-time model),
`modelfile` (versions and model files), `evaluate` (the protocol), `cli` (`casework suggest ...`).

The event logs used to build and evaluate these models (shared/logs) come from 4TU.ResearchData under CC BY 4.0;
BPI Challenge 2012: doi 10.4121/uuid:3926db30-f712-4394-aebc-75976070e91f (the others' DOIs are on their 4TU
pages). See README.md beside this file.
"""

from __future__ import annotations
