"""Expected outputs: the reference's (compute.py), the catalogued mistakes' (mistakes.py), and
the handout's file of them (handout.py), for a student's self-check without the reference."""
from grader.expected.handout import FORMAT, from_file, inputs_digest, public_mistakes, write_public
from grader.expected.compute import (ReferenceError_, from_reference, from_worker, in_worker, run_in_process,
                                       run_reference, support_path, variants_in_worker)

__all__ = ["FORMAT", "ReferenceError_", "from_file", "from_reference", "from_worker", "in_worker", "inputs_digest",
           "public_mistakes", "run_in_process", "run_reference", "support_path", "variants_in_worker", "write_public"]
