"""For instructors: a new assignment (scaffold.py), its handout (release.py), proof that its cases
catch the catalogued mistakes (validate.py), and a Gradescope autograder zip of it (package.py)."""
