"""Relation mining, displacement field -> instances, random walk, pseudo-label synthesis."""
from .instances import instance_map, refine_displacement
from .random_walk import random_walk
from .relations import mine_relations, split_by_peaks
from .synthesis import synthesize_instances, synthesize_semantic
