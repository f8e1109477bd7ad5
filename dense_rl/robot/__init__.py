"""The robot domain: the API, two simulators, RoboEval's checks, and the dense simulator reward.

api.py        the API text and running a program against a simulator (bound methods, budgets)
trace.py      events (GoTo, Say, Ask, CheckEntity, Pick, Place) and typed errors with the program line
robosim.py    the training simulator: random worlds invented lazily (RoboSim semantics)
evalsim.py    RoboEval's fixed-world simulator (regex matching, scripted answers)
checks.py     the 16 RoboEval success checks
roboeval.py   classification, Table 2 and the command line: python -m dense_rl.robot.roboeval --help
sandboxed.py  every program runs in the sandbox: one isolated process per program
reward.py     robot_reward(batch, tasks, n_runs, seed): the dense simulator reward
prompts.py    the prompt format and extract_program
"""
