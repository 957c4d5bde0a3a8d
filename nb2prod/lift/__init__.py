"""The lift layer: selected cells and their facts become a module plan (imports, definitions,
steps with their inputs and outputs, run()).

It may import the analysis and notebook layers and the base modules; its passes return new
values.
"""

from nb2prod.lift.parameters import Kind, Parameter, module_names_read
from nb2prod.lift.plan import Plan, Step, TestCell, lift, with_cell_marker
from nb2prod.lift.tasks import Task, tasks

__all__ = [
    "Kind",
    "Parameter",
    "Plan",
    "Step",
    "Task",
    "TestCell",
    "lift",
    "module_names_read",
    "tasks",
    "with_cell_marker",
]
