#!/usr/bin/env python3
"""Every CUDA path of dp_sparse in one run, for the day a GPU is lent (called by tools/gpu_check.sh).

    python3 tools/gpu_check.py [--out gpu_check.json] [--device cuda]   # on the GPU machine, < 8 minutes
    python3 tools/gpu_check.py --cpu-smoke --out /tmp/gpu_check.json    # the same checks, small, on CPU (~30-60 s)

Checks (each one a record in the JSON file, with its figures; exit 1 when any fails, 2 on bad usage):
  zoo       per-example gradient norms and clipped sums of an MLP, a CNN with GroupNorm, tiny GPT-2, BERT (with an
            attention mask) and LoRA-GPT-2 on the device, against the same on CPU and a float64 per-example loop
  train     `python3 -m dp_sparse.cli train --device DEV --epochs 2 --json`: exit 0, epsilon finite and vouched
  bf16      clipped_sum under torch.autocast(bfloat16): norms within 5% of float32, and the clip bound measured on
            each example alone (||clipped sum of one example|| <= C)
  naive     clip_and_accumulate vs a per-example loop (one backward per example) at batch 128 (Lee & Kifer,
            arXiv 2009.03106, report 54-94x), and vs a plain backward
  hf_bench  GPT-2 and BERT (4 layers, width 256, T = 128, B = 16): clip_and_accumulate vs a plain backward, and
            Opacus ghost clipping beside it when it runs
"""
import argparse, json, math, os, platform, subprocess, sys, time, traceback, warnings
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from dp_sparse.clipping import per_example_grad_norms, clipped_sum, clip_and_accumulate   # noqa: E402
from dp_sparse import hf                                                                   # noqa: E402

try:
    import transformers as tr
    tr.logging.set_verbosity_error()
except ImportError: tr = None
try: import peft
except ImportError: peft = None


def sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize()

def rel(a, b): return ((a.double().cpu() - b.double().cpu()).abs().max() / b.double().abs().max().clamp(min=1e-30)).item()

def naive_norms(model, loss_fn, xs, y):
    "float64 reference: one example at a time through forward and backward."
    xs = xs if isinstance(xs, tuple) else (xs,)
    ps = [p for p in model.parameters() if p.requires_grad]
    out = []
    for i in range(len(y)):
        g = torch.autograd.grad(loss_fn(model(*[x[i:i + 1] for x in xs]), y[i:i + 1]).sum(), ps, allow_unused=True)
        out.append(torch.sqrt(sum((gi.double() ** 2).sum() for gi in g if gi is not None)))
    return torch.stack(out)


# ----------------------------------------------------------------------------------------------------- the zoo
def zoo(small):
    "name -> (model factory, loss_fn, inputs, targets), on CPU, float32, dropout 0."
    g = torch.Generator().manual_seed(0)
    B = 6 if small else 16
    ce = nn.CrossEntropyLoss(reduction='none')
    out = {
        'mlp': (lambda: nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 3)), ce,
                torch.randn(B, 10, generator=g), torch.randint(0, 3, (B,), generator=g)),
        'cnn_groupnorm': (lambda: nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.GroupNorm(2, 8), nn.ReLU(),
                                                nn.Conv2d(8, 8, 3, stride=2), nn.Flatten(), nn.LazyLinear(3)), ce,
                          torch.randn(B, 1, 8, 8, generator=g), torch.randint(0, 3, (B,), generator=g)),
    }
    if tr is not None:
        T, V = 12, 40
        ids = torch.randint(1, V, (B, T), generator=g); lab = ids.clone(); lab[0, :4] = -100
        mask = torch.ones_like(ids); mask[1, 7:] = 0
        def gpt2():
            torch.manual_seed(1)
            return hf.HFWrapper(tr.GPT2LMHeadModel(tr.GPT2Config(vocab_size=V, n_positions=T, n_embd=16, n_layer=2, n_head=2,
                                resid_pdrop=0, embd_pdrop=0, attn_pdrop=0, bos_token_id=0, eos_token_id=0)))
        def bert():
            torch.manual_seed(2)
            return hf.HFWrapper(tr.BertForSequenceClassification(tr.BertConfig(vocab_size=V, hidden_size=16,
                num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, max_position_embeddings=T,
                hidden_dropout_prob=0, attention_probs_dropout_prob=0, num_labels=3)), keys=('input_ids', 'attention_mask'))
        out['gpt2'] = (gpt2, hf.causal_lm_loss, ids, lab)
        out['bert_mask'] = (bert, hf.seq_cls_loss, (ids, mask), torch.randint(0, 3, (B,), generator=g))
        if peft is not None:
            def lora():
                w = gpt2(); pm = peft.get_peft_model(w.model, peft.LoraConfig(r=4, lora_alpha=8, target_modules=['c_attn'],
                                                                              lora_dropout=0.0, fan_in_fan_out=True))
                with torch.no_grad():
                    for n, p in pm.named_parameters():
                        if 'lora_B' in n: p.normal_(0, 0.5, generator=torch.Generator().manual_seed(3))
                return hf.HFWrapper(pm)
            out['lora_gpt2'] = (lora, hf.causal_lm_loss, ids, lab)
    return out

def to(x, dev, dtype=None):
    if isinstance(x, tuple): return tuple(to(t, dev, dtype) for t in x)
    return x.to(dev, dtype) if (dtype is not None and x.is_floating_point()) else x.to(dev)

def check_zoo(dev, small):
    rows, ok = {}, True
    for name, (make, loss_fn, x, y) in zoo(small).items():
        m = make(); m(*(x if isinstance(x, tuple) else (x,)))   # materialize lazy layers
        m64 = make(); m64(*(x if isinstance(x, tuple) else (x,))); m64.load_state_dict(m.state_dict()); m64.double()
        ref = naive_norms(m64, loss_fn, to(x, 'cpu', torch.float64), to(y, 'cpu', torch.float64) if y.is_floating_point() else y)
        n_cpu = per_example_grad_norms(m, loss_fn, x, y)
        C = ref.median().item()
        _, s_cpu = clipped_sum(m, loss_fn, x, y, C)
        md = make(); md(*(x if isinstance(x, tuple) else (x,))); md.load_state_dict(m.state_dict()); md.to(dev)
        n_dev = per_example_grad_norms(md, loss_fn, to(x, dev), to(y, dev))
        _, s_dev = clipped_sum(md, loss_fn, to(x, dev), to(y, dev), C)
        sum_gap = max(rel(a, b) for a, b in zip(s_dev.values(), s_cpu.values()))
        r = {'cpu_vs_float64_loop': rel(n_cpu, ref), 'device_vs_cpu': rel(n_dev, n_cpu), 'device_vs_float64_loop': rel(n_dev, ref),
             'clipped_sum_device_vs_cpu': sum_gap}
        r['ok'] = r['cpu_vs_float64_loop'] < 1e-4 and r['device_vs_float64_loop'] < 1e-4 and sum_gap < 1e-3
        ok &= r['ok']; rows[name] = r
    return {'ok': ok, 'models': rows}


# --------------------------------------------------------------------------------------------------- training
def check_train(dev, small):
    cmd = [sys.executable, '-m', 'dp_sparse.cli', 'train', '--device', str(dev), '--epochs', '1' if small else '2',
           '--json', '--quiet', '--out', str(Path(os.environ.get('TMPDIR', '/tmp')) / f'gpu_check_run_{os.getpid()}'), '--overwrite']
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, 'PYTHONPATH': str(ROOT)}, timeout=240)
    res = {'cmd': ' '.join(cmd[1:]), 'rc': p.returncode, 'wall_s': time.time() - t0}
    try:
        j = json.loads(p.stdout.strip().splitlines()[-1]); res.update({k: j.get(k) for k in
            ('epsilon', 'test_accuracy', 'steps', 'device', 'epsilon_vouched', 'wall_time_s')})
    except Exception:
        res['stderr_tail'] = p.stderr[-800:]
    res['ok'] = p.returncode == 0 and res.get('epsilon') is not None and math.isfinite(res['epsilon']) and bool(res.get('epsilon_vouched'))
    return res


# ------------------------------------------------------------------------------------------------------- bf16
def check_bf16(dev, small):
    rows, ok = {}, True
    for name, (make, loss_fn, x, y) in zoo(small).items():
        if name == 'cnn_groupnorm' and dev.type == 'cpu': continue   # CPU autocast has no bf16 GroupNorm
        m = make(); m(*(x if isinstance(x, tuple) else (x,))); m.to(dev)
        xd, yd = to(x, dev), to(y, dev)
        n32 = per_example_grad_norms(m, loss_fn, xd, yd)
        C = 0.5 * n32.median().item()
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            nbf, _ = clipped_sum(m, loss_fn, xd, yd, C)
            singles = []
            for i in range(len(yd)):   # the bound, measured: the clipped sum of each example alone
                xi = tuple(t[i:i + 1] for t in xd) if isinstance(xd, tuple) else xd[i:i + 1]
                _, s = clipped_sum(m, loss_fn, xi, yd[i:i + 1], C)
                singles.append(torch.sqrt(sum(v.double().square().sum() for v in s.values())).item())
        r = {'norm_gap_vs_float32': rel(nbf, n32), 'C': C, 'max_single_clipped_norm': max(singles),
             'bound_ratio': max(singles) / C}
        r['ok'] = r['norm_gap_vs_float32'] < 5e-2 and r['bound_ratio'] <= 1 + 1e-3
        ok &= r['ok']; rows[name] = r
    return {'ok': ok, 'models': rows}


# ------------------------------------------------------------------------------------------ speed vs a loop
def check_naive(dev, small):
    B = 16 if small else 128
    repeats = 1 if small else 3
    ce = nn.CrossEntropyLoss(reduction='none')
    g = torch.Generator().manual_seed(0)
    cases = {
        'mlp': (nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)),
                torch.randn(B, 784, generator=g)),
        'cnn': (nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.GroupNorm(4, 16), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 7 * 7, 10)),
                torch.randn(B, 1, 28, 28, generator=g)),
    }
    rows = {}
    for name, (m, x) in cases.items():
        m.to(dev); x = x.to(dev); y = torch.randint(0, 10, (B,), generator=g).to(dev)
        ps = [p for p in m.parameters() if p.requires_grad]
        def plain(): m.zero_grad(); ce(m(x), y).mean().backward()
        def ours(): m.zero_grad(); clip_and_accumulate(m, ce, x, y, 1.0)
        def loop():   # the per-example loop of a textbook DP-SGD: one forward and backward per example, clip, add
            acc = [torch.zeros_like(p) for p in ps]
            for i in range(B):
                gi = torch.autograd.grad(ce(m(x[i:i + 1]), y[i:i + 1]).sum(), ps)
                f = min(1.0, 1.0 / (torch.sqrt(sum(t.square().sum() for t in gi)).item() + 1e-6))
                for a, t in zip(acc, gi): a.add_(t, alpha=f)
            return acc
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            t = hf._paired_min_times({'plain': lambda: (plain(), sync(dev)), 'ours': lambda: (ours(), sync(dev)),
                                      'loop': lambda: (loop(), sync(dev))}, repeats)
            tp, to_, tl = t['plain'], t['ours'], t['loop']
            ours(); gap = max(rel(p.grad, a) for p, a in zip(ps, loop()))   # same clipped sum as the loop
        rows[name] = {'B': B, 'plain_s': tp, 'dp_sparse_s': to_, 'loop_s': tl, 'loop_over_dp_sparse': tl / to_,
                      'dp_sparse_over_plain': to_ / tp, 'clipped_sum_vs_loop': gap, 'ok': gap < 1e-4}
    return {'ok': all(r['ok'] for r in rows.values()), 'models': rows,   # the speed is a figure, never an assert
            'reference': 'Lee & Kifer (arXiv 2009.03106): 54-94x faster than a per-example loop at batch 128'}


def check_hf_bench(dev, small):
    if tr is None: return {'ok': True, 'skipped': 'transformers not installed'}
    size = dict(layers=2, width=64, T=32, B=8, vocab=64, repeats=1) if small else dict(layers=4, width=256, T=128, B=16, repeats=5)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        rows = [hf.bench_clipping(k, device=str(dev), **size) for k in ('gpt2', 'bert')]
    return {'ok': True, 'rows': rows, 'target': 'dp_sparse_ratio <= 1.5 (a benchmark, not an assert)'}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--cpu-smoke', action='store_true', help='small sizes on CPU (~30-60 s): proves the script runs')
    ap.add_argument('--device', default=None, help='torch device (default: cuda; cpu with --cpu-smoke)')
    ap.add_argument('--out', default=None, help='JSON file for all figures (default: $OUT/gpu_check.json or ./gpu_check.json)')
    ap.add_argument('--only', default=None, help='comma-separated subset of: zoo,train,bf16,naive,hf_bench')
    a = ap.parse_args(argv)
    dev = torch.device(a.device or ('cpu' if a.cpu_smoke else 'cuda'))
    if dev.type == 'cuda' and not torch.cuda.is_available():
        print("gpu_check: --device cuda, but torch sees no CUDA device; run with --cpu-smoke on a CPU machine", file=sys.stderr)
        return 2
    names = ['zoo', 'train', 'bf16', 'naive', 'hf_bench']
    only = names if a.only is None else a.only.split(',')
    bad = [n for n in only if n not in names]
    if bad:
        print(f"gpu_check: --only must name checks among {','.join(names)}, got {','.join(bad)}", file=sys.stderr); return 2
    out = Path(a.out or Path(os.environ.get('OUT', '.')) / 'gpu_check.json')
    torch.set_num_threads(2 if dev.type == 'cpu' else torch.get_num_threads())
    t_start = time.time()
    report = {'device': str(dev), 'device_name': torch.cuda.get_device_name(dev) if dev.type == 'cuda' else platform.processor() or platform.machine(),
              'torch': torch.__version__, 'transformers': getattr(tr, '__version__', None), 'smoke': a.cpu_smoke,
              'threads': torch.get_num_threads(), 'checks': {}}
    fns = {'zoo': check_zoo, 'train': check_train, 'bf16': check_bf16, 'naive': check_naive, 'hf_bench': check_hf_bench}
    for n in only:
        t0 = time.time()
        try: r = fns[n](dev, a.cpu_smoke)
        except Exception as e:
            r = {'ok': False, 'error': f"{type(e).__name__}: {e}", 'traceback': traceback.format_exc()[-2000:]}
        r['wall_s'] = time.time() - t0
        report['checks'][n] = r
        print(f"gpu_check {n:9s} {'ok' if r['ok'] else 'FAILED'} ({r['wall_s']:.1f} s)", flush=True)
        out.parent.mkdir(parents=True, exist_ok=True); out.write_text(json.dumps(report, indent=1))   # partial results survive
    report['ok'] = all(r['ok'] for r in report['checks'].values()); report['wall_s'] = time.time() - t_start
    out.write_text(json.dumps(report, indent=1))
    print(f"gpu_check: {'all checks passed' if report['ok'] else 'FAILED'} in {report['wall_s']:.0f} s -> {out}")
    return 0 if report['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
