#!/usr/bin/env python
"""Execute notebooks in place and save their outputs (figures, tables) for the rendered course.

    python tools/run_nb.py nbs/00_accounting.ipynb [more.ipynb ...] [--skip slow] [--timeout 0]

Cells whose directives name a flag in --skip (default: none, so `#| slow` cells run and their
saved outputs are refreshed) keep the outputs they had. A failing cell stops the run with its
traceback and the notebook is not written. `nbdev_clean` is run on each notebook afterwards so
git stays clean.
"""
import argparse, sys, time, subprocess
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from nbdev.process import extract_directives

def _flags(cell):
    "Directive names at the top of a code cell, as nbdev reads them, e.g. {'slow', 'export'}"
    return set(extract_directives(cell, remove=False))

def run(path, skip=()):
    path = Path(path).resolve()
    nb = read_nb(path)
    sh = CaptureShell(path)
    sh.set_path(path.parent)
    def pre(cell):
        if cell.cell_type != 'code': return True
        if 'nbdev_export(' in cell.source: return True
        if _flags(cell) & set(skip): return True
        cell.outputs = []
        return False
    t = time.time()
    sh.run_all(nb, exc_stop=True, preproc=pre)
    write_nb(nb, path)
    print(f'{path.name}: ran in {time.time()-t:.1f}s')

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('notebooks', nargs='+')
    ap.add_argument('--skip', nargs='*', default=[], help='directive flags whose cells are not run (e.g. slow)')
    a = ap.parse_args()
    for nb in a.notebooks: run(nb, a.skip)
    for nb in a.notebooks: subprocess.run(['nbdev_clean', '--fname', nb], check=False)
