"""The workflow's plan as a package: what a validated config asks the Snakefile to run.

grid: the experiment cells and which methods are one training job; checks: cross-references the
schema cannot express; stages: each rule's log and benchmark stage; plan: the run's names, paths
and stage settings; paper: the paper manifest, settings and outputs; tiers: a tier's config as an
overlay of the paper's.
"""
