"""What happened in a run, read and drawn.

Owns reading an event history (stepfn's own or one exported from AWS), the analysis shared
by the table and the picture (visits, retries, catches, outcomes per state), and rendering
a machine with an execution overlay to DOT, SVG, PNG or a self-contained HTML report.

May import: ``stepfn.errors``, ``stepfn.asl`` and ``stepfn.runtime`` (for the event type).
"""
