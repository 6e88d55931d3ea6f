"""The stages of tools/generate_pseudo.py: trainers of the CAM and IRNet networks and resumable per-image stages."""
from .stages import STAGES, run_stage
from .work_dir import gt_records, load_npz, stage_records, work_paths
