"""The engine track: the learner writes the engine, and the grader checks it against PyTorch.

    gradschool build start [--dir DIR] [--lang en|zh]   a workspace: the engine with blanks
    gradschool build check [STEP] [--dir DIR] [--json]  grade the steps done so far
    gradschool build solution STEP                      the reference, from gradschool's engine
    gradschool build train [--dir DIR]                  the seed's MLP on the learner's engine

steps.py lists the steps and what each blank computes; source.py makes the workspace from
gradschool's own engine source; checks.py holds every step's cases and the oracle; grader.py
runs them and reports; train.py plugs the learner's engine into the trainer. docs/track.md is
the learner's guide, docs/teaching.md the teacher's.
"""
