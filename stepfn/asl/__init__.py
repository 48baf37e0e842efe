"""The language: Amazon States Language documents and everything needed to understand one.

Owns loading (JSON/YAML with positions for errors), validation (every problem with a JSON
Pointer), the frozen model, JSONPath, payload templates, intrinsic functions, Choice rules,
JSONata, the pure data-flow steps (InputPath → … → OutputPath, Retry/Catch decisions) and
the shipped schema. Everything here is compiled once at load time and is pure: no clock,
no event loop, no I/O beyond reading a definition.

May import: ``stepfn.errors`` only.
"""
