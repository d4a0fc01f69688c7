"""Assignment specs: YAML in, validated dataclasses out (the first stage of the pipeline).

    >>> spec = load_spec("assignments/linear_classifier")
    >>> [f.name for f in spec.functions]
    ['svm_loss_naive', 'svm_loss_vectorized', 'softmax_loss_naive', 'softmax_loss_vectorized']

model.py holds the dataclasses, load.py reads and validates the YAML (one SpecError naming the file,
the field and the problem), steps.py parses the steps of a case. The format is documented in
docs/spec-format.md.
"""
from grader.spec.load import (HiddenUnavailable, dump_yaml, find_spec, load_spec, nearest_spec, parse_size, resolved_yaml,
                               spec_for)
from grader.spec.model import (EXPECTED_FILE, FRAMEWORKS, HIDDEN_FILE, IDENTIFIER, SPEC_FILE, ArgSpec,
                               AssignmentSpec, CaseSpec, CheckSpec, FunctionSpec, Limits, OutputSpec, PropertySpec,
                               SpecError)

__all__ = ["ArgSpec", "AssignmentSpec", "CaseSpec", "CheckSpec", "EXPECTED_FILE", "FRAMEWORKS", "FunctionSpec",
           "HIDDEN_FILE", "HiddenUnavailable", "IDENTIFIER", "Limits", "OutputSpec", "PropertySpec", "SPEC_FILE",
           "SpecError", "dump_yaml", "find_spec", "load_spec", "nearest_spec", "parse_size", "resolved_yaml", "spec_for"]
