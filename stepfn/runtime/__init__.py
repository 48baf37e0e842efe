"""Running a loaded machine: one execution from its input to SUCCEEDED, FAILED, TIMED_OUT or ABORTED.

Owns the run loop (``interpreter.Run``), the Task/Wait/Map/Parallel states, handler calls
and the handler registry, nested executions, task tokens and activities, the clocks (real
and virtual), payload and history limits, the AWS-shaped events a run emits, the
execution result and the handle of a background run, and ``launch`` (what ``stepfn.run``,
``execute`` and ``start`` do). Collaborators from higher layers (an AWS service backend, a
journal) come in as parameters typed by the protocols defined here.

May import: ``stepfn.errors`` and ``stepfn.asl``.
"""
