#!/usr/bin/env python
"""Render the course (every notebook in nbs/) to an offline static HTML site, without quarto.

    python tools/build_docs.py [--out _site]     # build; open _site/index.html in a browser
    python tools/build_docs.py --check            # build, then verify the site (CI runs this)
    python tools/build_docs.py --check --strict   # ... and fail on the warnings too

The pipeline is the one `nbdev_docs` feeds to quarto, with nbconvert in quarto's place:
1. nbdev's own notebook processors (`nbdev.processors.FilterDefaults`): front matter from the `# title` /
   `> summary` cell, `#| hide` / `#| export` cells removed, `show_doc` cells added after exported definitions
   (`add_show_docs`) and executed with the exported code, backticked names linked to their docs.
   Only what nbdev executes for show_doc runs (exported cells, import-only cells, show_doc cells); test cells that
   mix imports with other code are NOT run (nbdev would run them: see the warning the check prints).
   Every other output is the one saved in the notebook: nothing is re-executed.
2. The quarto cell options nbdev leaves for quarto (`#| echo: false`, `output: asis`, `include: false`,
   `code-fold`) are applied, and pandoc-only markdown (`[a](b){attrs}`, `::: {.callout-note}` divs, heading
   `{#id}`) is turned into HTML.
3. nbconvert (JupyterLab template, pygments highlighting, figures as inline base64 PNGs) renders the cells;
   heading ids follow pandoc's rule, so nbdev's doc links (`accounting.html#rdpaccountant`) resolve.
4. Each page gets the site's sidebar in course order (index first, then file-name order), a table of contents,
   and previous/next links. Links `NN_name.ipynb` become `NN_name.html`; nbdev's absolute doc links become local.
   Math is typeset by MathJax 2.7 copied from the `jupyter-server-mathjax` package into the site (no CDN); without
   that package the TeX is left readable (it is in the dev requirements: `pip install -e ".[dev]"`).
   A `#| fig-cap: ...` cell option puts the figure and its caption in a numbered <figure>, as quarto does.

`--check` exits 1 with a list when: a notebook fails to render or has no page, a show_doc cell fails, a local
link (`*.html`, `#anchor`) does not resolve, a chapter (every notebook but those in NO_FIGURE / FIGURE_TODO) has
no figure, a directive line (`#|`) or an external script/stylesheet reaches a page, nbs/sidebar.yml or
nbs/nbdev.yml is out of date with the notebooks (a new chapter missing from quarto's sidebar).
Warnings (exit 0): cells nbdev_docs would execute (imports mixed with code), figures without a caption, links to a
`Class.method` anchor no show_doc makes (pointed at the class instead), FIGURE_TODO chapters, math without MathJax.
Notebooks are discovered (every nbs/**/*.ipynb), never listed: a new chapter is built and checked as it lands.
The build also refreshes nbs/sidebar.yml and nbs/nbdev.yml the way `nbdev_docs` does (not with --check).
"""
import argparse, ast, base64, html, mimetypes, json, os, re, shutil, sys, time, warnings
from pathlib import Path

root = Path(__file__).resolve().parent.parent
NO_FIGURE = {'index', '10b_cli'}           # pages that need not have a figure (title page, the command line)
FIGURE_TODO = set()      # chapters without a plot yet (owned elsewhere): a warning, not an error;
                                            # remove a name once its chapter draws a figure
SKIP_DIRS = re.compile(r'^[_.]|^www$')      # folders nbdev skips when it builds the sidebar

# ---------------------------------------------------------------------------------------------- notebooks

def _sort_key(rel: Path):
    "nbdev's sidebar order: by folder, then file name, with index first."
    return (str(rel.parent), '00' if rel.name.startswith('index.') else rel.name)

def find_notebooks(nbs: Path):
    "Every notebook under `nbs` (relative paths) in course order."
    res = [p.relative_to(nbs) for p in nbs.rglob('*.ipynb')
           if not any(SKIP_DIRS.search(d) or d == '.ipynb_checkpoints' for d in p.relative_to(nbs).parts[:-1])]
    return sorted(res, key=_sort_key)

def page_of(rel: Path) -> str: return rel.with_suffix('.html').as_posix()

def _procs():
    "nbdev's docs processors, with exec_show_docs replaced by one that runs only what show_doc needs."
    import nbdev.processors as P

    class exec_show_docs_only(P.exec_show_docs):
        "Like nbdev's exec_show_docs, but skip (and report) cells mixing imports with other code; never raise."
        def begin(self):
            super().begin()
            self.nb.mixed_, self.nb.errors_ = [], []
        def __call__(self, cell):
            if not self.nb.has_docs_ or not hasattr(self, 'k'): return
            fm = getattr(self.nb, 'frontmatter_', {})
            if P.str2bool(fm.get('skip_showdoc', False)) or not P._do_eval(cell): return
            trees = cell.parsed_()
            if (not (cell.directives_.keys() & {'export', 'exports', 'exporti', 'exec_doc'})
                    and not P._show_docs(trees) and P._ast_contains(trees, (ast.Expr, ast.Assign))):
                self.nb.mixed_.append(cell.source.splitlines()[0][:70]); return
            self.k.cell(cell)
            if self.k.exc:
                e = self.k.exc; self.k.exc = None
                self.nb.errors_.append(f'{type(e[1] if isinstance(e, tuple) else e).__name__} in cell '
                                       f'"{cell.source.splitlines()[-1][:70]}": {e[1] if isinstance(e, tuple) else e}')

    class Filter(P.FilterDefaults):
        def base_procs(self): return [exec_show_docs_only if p is P.exec_show_docs else p for p in super().base_procs()]
    return Filter()

# ------------------------------------------------------------------------------------ quarto-isms -> HTML

_re_qdir = re.compile(r'^\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$')

def _pandoc_attrs(s: str) -> str:
    "`#id .cls key=\"v\"` -> HTML attributes."
    ids, cls, kv = [], [], []
    for tok in re.findall(r'[\w-]+="[^"]*"|[\w-]+=\S+|[#.][\w:.-]+', s):
        if tok[0] == '#': ids.append(tok[1:])
        elif tok[0] == '.': cls.append(tok[1:])
        else:
            k, v = tok.split('=', 1); kv.append(f'{k}="{html.escape(v.strip(chr(34)))}"')
    out = ([f'id="{ids[0]}"'] if ids else []) + ([f'class="{" ".join(cls)}"'] if cls else []) + kv
    return ' '.join(out)

_re_link_attr = re.compile(r'\[([^\]\n]*)\]\(([^)\s]+)\)\{([^}\n]*)\}')
_re_head_attr = re.compile(r'^(#{1,6}\s.*?)\s*\{([^}\n]*)\}\s*$', re.M)
_re_fence_div = re.compile(r'^:::+\s*(?:\{([^}]*)\}|([\w-]+))?\s*$')

def quarto_md(src: str) -> str:
    "Turn the pandoc/quarto markdown extensions nbdev and authors use into HTML that mistune passes through."
    src = _re_link_attr.sub(lambda m: f'<a href="{html.escape(m[2])}" {_pandoc_attrs(m[3])}>{m[1]}</a>', src)
    def head(m):
        attrs = _pandoc_attrs(m[2]); idm = re.search(r'id="([^"]+)"', attrs)
        return m[1] + (f' <a class="anchor-alias" id="{idm[1]}"></a>' if idm else '')
    src = _re_head_attr.sub(head, src)
    if ':::' not in src: return src
    out, depth, fence = [], 0, False
    for line in src.splitlines():
        if line.lstrip().startswith('```'): fence = not fence
        m = None if fence else _re_fence_div.match(line)
        if m and (m[1] or m[2]):
            spec = m[1] or '.' + m[2]; depth += 1
            kind = re.search(r'\.callout-(\w+)', spec)
            attrs = _pandoc_attrs(('.callout ' if kind else '') + spec)
            out += ['', f'<div {attrs}>', *([f'<div class="callout-title">{kind[1].capitalize()}</div>'] if kind else []), '']
        elif m and depth: out += ['', '</div>', '']; depth -= 1
        else: out.append(line)
    return '\n'.join(out + ['', '</div>'] * depth)

def _to_md_output(o):
    "A stream / text/plain output of an `output: asis` cell becomes markdown, as quarto treats it."
    txt = o.get('text') if o.get('output_type') == 'stream' else o.get('data', {}).get('text/plain')
    if txt is None or 'text/markdown' in o.get('data', {}) or 'text/html' in o.get('data', {}): return o
    return {'output_type': 'display_data', 'metadata': {}, 'data': {'text/markdown': ''.join(txt)}}

def apply_cell_options(nbd: dict) -> dict:
    "Apply the quarto options nbdev leaves in code cells, and remove the `#|` lines."
    cells = []
    for c in nbd['cells']:
        src = ''.join(c['source']) if isinstance(c['source'], list) else c['source']
        if c['cell_type'] == 'markdown':
            c['source'] = quarto_md(src); cells.append(c); continue
        if c['cell_type'] != 'code': cells.append(c); continue
        lines, opts = src.splitlines(), {}
        while lines and _re_qdir.match(lines[0]):
            m = _re_qdir.match(lines.pop(0)); opts[m[1]] = m[2].strip('"\'')
        c['source'] = '\n'.join(lines).strip('\n')
        low = {k: v.lower() for k, v in opts.items()}
        if low.get('include') == 'false': continue
        if low.get('output') == 'false': c['outputs'] = []
        if low.get('output') == 'asis': c['outputs'] = [_to_md_output(o) for o in c['outputs']]
        if opts.get('fig-cap'):
            imgs = [j for j, o in enumerate(c['outputs']) if any(k.startswith('image/') for k in o.get('data', {}))]
            if imgs:    # quarto puts the caption under the figure; here an HTML output right after the last image
                cap = {'output_type': 'display_data', 'metadata': {},
                       'data': {'text/html': f'<p class="dp-figcap">{_md_inline(opts["fig-cap"])}</p>'}}
                c['outputs'].insert(imgs[-1] + 1, cap)
        for o in c['outputs']:
            if 'text/markdown' in o.get('data', {}):
                md = o['data']['text/markdown']; md = ''.join(md) if isinstance(md, list) else md
                o['data']['text/markdown'] = quarto_md(md)
        md = c.setdefault('metadata', {})
        if low.get('echo') == 'false' or not c['source'].strip():
            md.setdefault('transient', {})['remove_source'] = True
        if low.get('code-fold') in ('true', 'show'):
            md.setdefault('tags', []).append('dpfold-' + ('open' if low['code-fold'] == 'show' else 'closed'))
            md['dp_fold_summary'] = opts.get('code-summary', 'Code')
        if not c['outputs'] and md.get('transient', {}).get('remove_source'): continue
        cells.append(c)
    nbd['cells'] = cells
    return nbd

# --------------------------------------------------------------------------------------------- rendering

def _exporter():
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    tpl = "{%- extends 'base.html.j2' -%}\n"   # lab cell markup only; the page is assembled below
    # nbconvert's templates live under <prefix>/share/jupyter; a venv made with --system-site-packages does not look
    # in the base interpreter's prefix, so add it to JUPYTER_PATH (searched first by jupyter_core)
    base = Path(sys.base_prefix)/'share'/'jupyter'
    if sys.base_prefix != sys.prefix and (base/'nbconvert'/'templates'/'lab').is_dir():
        os.environ['JUPYTER_PATH'] = os.pathsep.join([p for p in [os.environ.get('JUPYTER_PATH'), str(base)] if p])
    return HTMLExporter(template_name='lab', extra_loaders=[DictLoader({'dp_body.html.j2': tpl})],
                        template_file='dp_body.html.j2', exclude_input_prompt=True, exclude_output_prompt=True)

def slugify(text: str) -> str:
    "pandoc's auto identifier (what quarto gives a heading)."
    s = re.sub(r'[^\w\s.-]', '', text.strip()).lower()
    s = re.sub(r'\s+', '-', s)
    s = re.sub(r'^[^a-z\u00c0-\uffff]+', '', s)
    return s or 'section'

def _mathjax_dir():
    import importlib.util
    spec = importlib.util.find_spec('jupyter_server_mathjax')   # finds the files without importing jupyter_server
    if not spec or not spec.submodule_search_locations: return None
    d = Path(list(spec.submodule_search_locations)[0])/'static'
    return d if (d/'MathJax.js').exists() else None

def copy_mathjax(out: Path):
    "The parts of MathJax 2.7 the site uses: TeX input, HTML-CSS output with the STIX-Web web fonts."
    src = _mathjax_dir()
    if src is None: return False
    dst = out/'assets'/'mathjax'
    if (dst/'MathJax.js').exists(): return True
    keep = ['MathJax.js', 'LICENSE', 'config/TeX-AMS-MML_HTMLorMML-full.js', 'extensions', 'jax/input/TeX',
            'jax/element', 'jax/output/HTML-CSS', 'fonts/HTML-CSS/STIX-Web/woff', 'localization/en']
    for k in keep:
        s = src/k
        if s.is_dir(): shutil.copytree(s, dst/k, dirs_exist_ok=True, ignore=shutil.ignore_patterns('a11y'))
        elif s.exists(): (dst/k).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(s, dst/k)
    return True

MATHJAX_HEAD = r"""<script type="text/x-mathjax-config">
MathJax.Hub.Config({
  tex2jax: {inlineMath: [['$','$'], ['\\(','\\)']], displayMath: [['$$','$$'], ['\\[','\\]']],
            processEscapes: true, processEnvironments: true},
  TeX: {equationNumbers: {autoNumber: "AMS", useLabelIds: true}},
  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null, scale: 95},
  displayAlign: "center", messageStyle: "none", showMathMenu: false, menuSettings: {zoom: "None"}
});
</script>
<script src="{prefix}assets/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"></script>"""

SITE_CSS = r"""
:root { --dp-accent: #2780e3; --dp-border: #dee2e6; --dp-muted: #6c757d; --dp-side: 250px; --dp-toc: 220px; }
html { scroll-padding-top: 1rem; }
body { margin: 0; background: #fff; color: #212529; font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
       Arial, "Noto Sans", "Liberation Sans", sans-serif; font-size: 16px; line-height: 1.55; }
a { color: var(--dp-accent); text-decoration: none; } a:hover { text-decoration: underline; }
.dp-topbar { background: var(--dp-accent); color: #fff; padding: .55rem 1.2rem; display: flex; gap: 1rem;
             align-items: baseline; position: sticky; top: 0; z-index: 10; }
.dp-topbar a { color: #fff; font-weight: 600; font-size: 1.15rem; }
.dp-topbar span { opacity: .85; font-size: .9rem; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.dp-layout { display: grid; grid-template-columns: var(--dp-side) minmax(0, 1fr) var(--dp-toc); gap: 2rem;
             max-width: 1500px; margin: 0 auto; padding: 0 1rem; }
.dp-sidebar, .dp-toc { position: sticky; top: 3.2rem; align-self: start; max-height: calc(100vh - 3.5rem);
                       overflow-y: auto; padding: 1.2rem 0; font-size: .9rem; }
.dp-sidebar ol { list-style: none; padding: 0; margin: 0; }
.dp-sidebar li a { display: flex; gap: .5rem; padding: .3rem .6rem; border-radius: 4px; color: #343a40; }
.dp-sidebar li a:hover { background: #f1f3f5; text-decoration: none; }
.dp-sidebar li.active a { background: #e7f1fc; color: var(--dp-accent); font-weight: 600; }
.dp-sidebar .num { color: var(--dp-muted); min-width: 2.1em; font-variant-numeric: tabular-nums; }
.dp-sidebar .dp-section { font-weight: 600; color: var(--dp-muted); margin: .8rem .6rem .2rem; text-transform: capitalize; }
.dp-toc h2 { font-size: .8rem; text-transform: uppercase; letter-spacing: .05em; color: var(--dp-muted); margin: 0 0 .4rem; }
.dp-toc ul { list-style: none; margin: 0; padding-left: .7rem; border-left: 1px solid var(--dp-border); }
.dp-toc ul ul { border: none; padding-left: .8rem; }
.dp-toc li a { display: block; padding: .12rem 0; color: #495057; overflow-wrap: anywhere; }
.dp-toc li a:hover { color: var(--dp-accent); }
.dp-toc code { font-size: .85em; }
main.dp-content { min-width: 0; padding: 1.2rem 0 3rem; }
.dp-title h1 { font-size: 2.1rem; margin: .6rem 0 .3rem; line-height: 1.2; }
.dp-title .description { font-size: 1.12rem; color: #495057; margin: 0 0 1.4rem; }
main.dp-content .jp-Notebook { padding: 0; overflow: visible; background: none; }
.jp-Notebook .jp-Cell { padding: 0; margin-bottom: .8rem; }
.jp-RenderedHTMLCommon { font-size: 16px; line-height: 1.6; padding-right: 0; color: #212529; font-family: inherit; }
.jp-RenderedHTMLCommon h2 { font-size: 1.6rem; margin-top: 2rem; border-bottom: 1px solid var(--dp-border); padding-bottom: .25rem; }
.jp-RenderedHTMLCommon h3 { font-size: 1.3rem; margin-top: 1.5rem; }
.jp-RenderedHTMLCommon h4 { font-size: 1.1rem; }
.jp-RenderedHTMLCommon :is(h1,h2,h3,h4,h5,h6) a.anchor-link { display: inline; visibility: hidden; margin-left: .3rem;
       color: var(--dp-muted); text-decoration: none; }
.jp-RenderedHTMLCommon :is(h1,h2,h3,h4,h5,h6):hover a.anchor-link { visibility: visible; }
.jp-RenderedHTMLCommon table { font-size: .92rem; margin: .6rem 0 1rem; }
.jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th { text-align: left; vertical-align: top; }
.jp-RenderedHTMLCommon blockquote { border-left: 3px solid var(--dp-border); color: #495057; margin-left: 0; padding-left: 1rem; }
.jp-RenderedHTMLCommon code { background: #f5f5f5; padding: .08em .3em; border-radius: 3px; font-size: .9em; }
.jp-RenderedHTMLCommon pre code { background: none; padding: 0; }
.jp-RenderedHTMLCommon pre { background: #f8f9fa; border: 1px solid #eef0f2; border-radius: 4px; padding: .6rem .8rem; overflow-x: auto;
       white-space: pre; font-size: 13px; line-height: 1.45; }
.jp-RenderedMarkdown.jp-OutputArea-output > hr:first-child { margin-top: 1.2rem; }
.jp-RenderedHTMLCommon .highlight pre, .jp-RenderedHTMLCommon pre code { white-space: pre; word-break: normal; }
.jp-InputArea, .jp-InputArea-editor { display: block; overflow: visible; }
.jp-InputArea-editor { border: 1px solid #e3e6e8 !important; border-radius: 4px; background: #f8f9fa !important; padding: 0 !important; }
.jp-InputArea-editor .cm-editor { padding: 0; }
.jp-InputArea-editor .highlight { background: none; }
.jp-InputArea-editor .highlight pre { font-size: 13px; line-height: 1.45; padding: .6rem .8rem; margin: 0; overflow-x: auto;
       white-space: pre; font-family: var(--jp-code-font-family); }
.jp-OutputArea-output pre { font-size: 13px; line-height: 1.4; overflow-x: auto; white-space: pre-wrap;
       word-break: normal; overflow-wrap: anywhere; }
.jp-RenderedHTMLCommon > *:first-child { margin-top: .4rem; }
.jp-MarkdownOutput, .jp-RenderedMarkdown { padding-left: 0 !important; }
.jp-OutputArea-output.jp-RenderedText { border-left: 2px solid lightsalmon; padding-left: .7rem; margin-left: .3rem; }
.jp-OutputArea-output img { max-width: 100%; height: auto; }
figure.dp-figure { margin: .4rem 0 1.2rem; text-align: center; }
figure.dp-figure figcaption { font-size: .9rem; color: #495057; max-width: 46rem; margin: .3rem auto 0; text-align: left; }
.jp-OutputArea-output.jp-RenderedImage { text-align: center; }
.jp-OutputArea-output.jp-RenderedMarkdown { padding-left: 0; }
.jp-InputPrompt, .jp-OutputPrompt { display: none !important; }
.jp-Cell-inputWrapper, .jp-Cell-outputWrapper, .jp-OutputArea-child { display: block; }
.jp-OutputArea-output { display: block; width: 100%; box-sizing: border-box; }
details.dp-fold > summary { cursor: pointer; color: var(--dp-muted); font-size: .9rem; margin: .2rem 0; }
.callout { border-left: 4px solid var(--dp-accent); background: #f4f8fd; padding: .4rem 1rem; margin: 1rem 0; border-radius: 3px; }
.callout-warning { border-color: #ff7518; background: #fff6ef; } .callout-important { border-color: #ff0039; background: #fff1f3; }
.callout-tip { border-color: #3fb618; background: #f4fbf2; }
.callout-title { font-weight: 600; margin-bottom: .2rem; }
.dp-pagenav { display: flex; justify-content: space-between; gap: 1rem; border-top: 1px solid var(--dp-border);
              margin-top: 2.5rem; padding-top: 1rem; }
.dp-pagenav a { display: block; max-width: 48%; } .dp-pagenav .next { text-align: right; margin-left: auto; }
.dp-pagenav small { display: block; color: var(--dp-muted); }
.dp-footer { color: var(--dp-muted); font-size: .82rem; margin-top: 1.5rem; }
@media (max-width: 1100px) { .dp-layout { grid-template-columns: var(--dp-side) minmax(0, 1fr); } .dp-toc { display: none; } }
@media (max-width: 760px) { .dp-layout { display: block; } .dp-sidebar { position: static; max-height: none; } }
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{page_title}</title>
<meta name="description" content="{description_attr}">
<link rel="stylesheet" href="{prefix}assets/jupyterlab.css">
<link rel="stylesheet" href="{prefix}assets/pygments.css">
<link rel="stylesheet" href="{prefix}assets/site.css">
<link rel="stylesheet" href="{prefix}styles.css">
{mathjax}
</head>
<body>
<header class="dp-topbar"><a href="{prefix}index.html">{site_title}</a><span>{site_desc}</span></header>
<div class="dp-layout">
<nav class="dp-sidebar" aria-label="Course">
{sidebar}
</nav>
<main class="dp-content" data-jp-theme-light="true" data-jp-theme-name="JupyterLab Light">
<header class="dp-title"><h1 id="title">{title}</h1>{description}</header>
<div class="jp-Notebook">
{body}
</div>
<nav class="dp-pagenav" aria-label="Chapters">{prevnext}</nav>
<footer class="dp-footer">{copyright} · rendered from <code>{source}</code> by <code>tools/build_docs.py</code></footer>
</main>
<nav class="dp-toc" aria-label="On this page">
{toc}
</nav>
</div>
</body>
</html>
"""

def _md_inline(s: str) -> str:
    "Backticks in titles/descriptions to <code>, everything else escaped."
    return re.sub(r'`([^`]+)`', r'<code>\1</code>', html.escape(s))

class Site:
    def __init__(self, out: Path, nbs: Path):
        from nbdev.config import get_config
        self.cfg, self.out, self.nbs = get_config(), out, nbs
        self.rels = find_notebooks(nbs)
        self.pages = {}      # rel -> dict(title, description, html body, errors, mixed)
        self.errors, self.warnings = [], []

    # --- processing
    def process(self, rel: Path):
        import nbformat
        from execnb.nbio import read_nb, nb2dict
        nb = read_nb(self.nbs/rel)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            _procs()(nb)
        fm = getattr(nb, 'frontmatter_', {}) or {}
        nbd = nb2dict(nb)
        if nbd['cells'] and nbd['cells'][0]['cell_type'] == 'raw' and ''.join(nbd['cells'][0]['source']).startswith('---'):
            nbd['cells'].pop(0)     # the front matter FrontmatterProc inserted: shown as the title block instead
        nbd['cells'] = [c for c in nbd['cells'] if not (c['cell_type'] == 'markdown' and
                        ''.join(c['source']).strip() == '<!-- WARNING: THIS FILE WAS AUTOGENERATED! DO NOT EDIT! -->')]
        nbd.setdefault('metadata', {}).setdefault('language_info', {'name': 'python', 'pygments_lexer': 'ipython3'})
        nbd = apply_cell_options(nbd)
        for c in nbd['cells']: c.pop('id', None)
        nbd['nbformat'], nbd['nbformat_minor'] = 4, 4
        node = nbformat.reads(json.dumps(nbd), as_version=4)
        body, res = self.exporter.from_notebook_node(node)
        if not self.pyg_css: self.pyg_css = '\n'.join(res.get('inlining', {}).get('css', []))
        return dict(title=str(fm.get('title') or rel.stem), description=str(fm.get('description') or ''), body=body,
                    errors=getattr(nb, 'errors_', []), mixed=getattr(nb, 'mixed_', []))

    def build(self, quiet=False):
        t0 = time.time()
        self.exporter, self.pyg_css = _exporter(), ''
        os.environ.setdefault('MPLBACKEND', 'Agg')
        os.environ['IN_TEST'] = '1'          # as nbdev's docs processing sets it
        for rel in self.rels:
            t = time.time()
            try: self.pages[rel] = self.process(rel)
            except Exception as e:
                self.errors.append(f'{rel}: could not be rendered: {type(e).__name__}: {e}'); continue
            p = self.pages[rel]
            for e in p['errors']: self.errors.append(f'{rel}: show_doc execution failed: {e}')
            if p['mixed']:
                self.warnings.append(f'{rel}: {len(p["mixed"])} cell(s) mix imports with other code, so nbdev_docs runs '
                                     f'them (nbdev\'s FAQ warning; there they may fail or be slow): '
                                     + ', '.join(repr(m[:40]) for m in p['mixed']) +
                                     '; move their imports to the `#| hide` import cell')
            if not quiet: print(f'  processed {rel} ({time.time() - t:.1f}s)', flush=True)
        self.write()
        if not quiet: print(f'built {len(self.pages)} page(s) in {self.out} ({time.time() - t0:.1f}s)')

    # --- links
    def _link_map(self):
        from nbdev.doclinks import _nbpath2html
        m = {}
        for rel in self.rels:
            m[rel.as_posix()] = page_of(rel)
            m[_nbpath2html(rel).as_posix()] = page_of(rel)      # quarto's name (numbers dropped): accounting.html
        base = (self.cfg.get('doc_host', '').rstrip('/') + '/' + self.cfg.get('doc_baseurl', '').strip('/')).rstrip('/') + '/'
        return m, base

    def rewrite_href(self, href: str, rel: Path, lmap, base):
        if not href or href.startswith(('#', 'mailto:', 'data:', 'javascript:')): return href
        if base != '/' and href.startswith(base): href = href[len(base):]; absolute = True
        elif re.match(r'^[a-z][a-z0-9+.-]*:', href, re.I): return href
        else: absolute = False
        path, frag = (href.split('#', 1) + [None])[:2]
        if absolute: key = path
        else:
            key = os.path.normpath(os.path.join(rel.parent.as_posix(), path)).replace(os.sep, '/') if path else ''
        if not path: return href
        new = lmap.get(key) or (re.sub(r'\.ipynb$', '.html', key) if key.endswith('.ipynb') else None)
        if new is None: return base + href if absolute else href
        new = os.path.relpath(new, rel.parent.as_posix() or '.').replace(os.sep, '/')
        return new + ('#' + frag if frag else '')

    # --- writing
    def _src_name(self, rel: Path) -> str:
        try: return (self.nbs.resolve()/rel).relative_to(root).as_posix()
        except ValueError: return (self.nbs/rel).as_posix()

    def sidebar(self, cur: Path):
        prefix = '../' * len(cur.parent.parts)
        out, lastdir = ['<ol>'], Path('.')
        for rel in self.rels:
            if rel not in self.pages: continue
            if rel.parent != lastdir and rel.parent != Path('.'):
                out.append(f'<li class="dp-section">{html.escape(re.sub(r"^[0-9]+_", "", rel.parent.name))}</li>')
            lastdir = rel.parent
            num = re.match(r'^(\d+[a-z]?)_', rel.name)
            cls = ' class="active"' if rel == cur else ''
            out.append(f'<li{cls}><a href="{prefix}{page_of(rel)}"><span class="num">{num[1] if num else ""}</span>'
                       f'<span>{_md_inline(self.pages[rel]["title"])}</span></a></li>')
        return '\n'.join(out + ['</ol>'])

    def _fix_member_links(self, soup, rel, ids):
        """nbdev links `Class.method` to `page.html#class.method`, an anchor only a show_doc of that method makes;
        without one, point at the class's anchor and say so (the fix is `show_doc(Class.method)` in the notebook)."""
        for a in soup.find_all('a', href=True):
            href = a['href']
            if re.match(r'^[a-z][a-z0-9+.-]*:', href, re.I) or '#' not in href: continue
            path, frag = href.split('#', 1)
            target = os.path.normpath(os.path.join(rel.parent.as_posix(), path)).replace(os.sep, '/') if path else page_of(rel)
            have = ids.get(target)
            if have is None or frag in have or '.' not in frag: continue
            owner = frag.rsplit('.', 1)[0]
            if owner in have:
                a['href'] = f'{path}#{owner}'
                self.warnings.append(f'{rel}: `{a.get_text()}` links to #{frag}, which {target} does not have (no show_doc of '
                                     f'that member): pointed at #{owner}; add `show_doc(...)` for it to that chapter')

    def write(self):
        from bs4 import BeautifulSoup
        out = self.out
        (out/'assets').mkdir(parents=True, exist_ok=True)
        lab = Path(self.exporter.template_paths[0])
        css = ''.join((lab/'static'/f).read_text() for f in ('index.css', 'theme-light.css') if (lab/'static'/f).exists())
        (out/'assets'/'jupyterlab.css').write_text(css)
        (out/'assets'/'pygments.css').write_text(self.pyg_css)
        (out/'assets'/'site.css').write_text(SITE_CSS)
        styles = self.nbs/'styles.css'
        (out/'styles.css').write_text(styles.read_text() if styles.exists() else '')
        self.has_mathjax = copy_mathjax(out)
        lmap, base = self._link_map()
        order = [r for r in self.rels if r in self.pages]
        site_title = html.escape(str(self.cfg.get('title', self.cfg.get('lib_name', 'docs'))))
        site_desc = html.escape(str(self.cfg.get('description', '')))
        staged, ids, fig = [], {}, 0
        for i, rel in enumerate(order):
            p = self.pages[rel]
            soup = BeautifulSoup(p['body'], 'html.parser')
            # figure captions (`#| fig-cap:`): the image and its caption become one numbered <figure>
            for k, cap in enumerate(soup.select('p.dp-figcap'), 1):
                out_div = cap.find_parent(class_='jp-OutputArea-child')
                prev = out_div.find_previous_sibling(class_='jp-OutputArea-child') if out_div else None
                img = prev.find('img') if prev else None
                fig_el = soup.new_tag('figure', attrs={'class': 'dp-figure', 'id': f'figure-{k}'})
                fc = soup.new_tag('figcaption'); b = soup.new_tag('b'); b.string = f'Figure {k}. '
                fc.append(b)
                for x in list(cap.contents): fc.append(x.extract())
                if img is not None:
                    img.wrap(fig_el); fig_el.append(fc); out_div.decompose()
                else: cap.replace_with(fc)
            # code-fold
            for cell in soup.select('div[class*="celltag_dpfold-"]'):
                w = cell.find('div', class_='jp-Cell-inputWrapper')
                if not w: continue
                det = soup.new_tag('details', attrs={'class': 'dp-fold'})
                if 'celltag_dpfold-open' in cell.get('class', []): det['open'] = ''
                summ = soup.new_tag('summary'); summ.string = 'Code'; det.append(summ)
                w.wrap(det)
            # headings: pandoc ids, table of contents
            used, toc = {'title'}, []
            for a in soup.select('a.anchor-alias[id]'): used.add(a['id'])
            for h in soup.find_all(['h1', 'h2', 'h3', 'h4', 'h5', 'h6']):
                for a in h.select('a.anchor-link'): a.extract()
                text = h.get_text(' ', strip=True)
                sid, k = slugify(text), 1
                while sid in used: sid = f'{slugify(text)}-{k}'; k += 1
                used.add(sid); h['id'] = sid
                anchor = soup.new_tag('a', attrs={'class': 'anchor-link', 'href': '#' + sid, 'aria-label': 'link'})
                anchor.string = '¶'; h.append(anchor)
                if h.name in ('h2', 'h3'):
                    inner = ''.join(str(x) for x in h.contents if not (getattr(x, 'get', None) and 'anchor-link' in (x.get('class') or [])))
                    inner = re.sub(r'<a\b[^>]*>|</a>', '', inner)
                    toc.append((int(h.name[1]), sid, inner))
            for a in soup.find_all('a', href=True): a['href'] = self.rewrite_href(a['href'], rel, lmap, base)
            for img in soup.find_all('img'):
                if img.get('alt', '').startswith('No description'): img['alt'] = f'Figure from {rel.stem}'
                src = img.get('src', '')
                if src and not re.match(r'^[a-z][a-z0-9+.-]*:', src, re.I):   # a local image named in markdown
                    f = (self.nbs/rel).parent/src.split('?')[0]
                    mime = mimetypes.guess_type(f.name)[0]
                    if f.is_file() and mime: img['src'] = f'data:{mime};base64,' + base64.b64encode(f.read_bytes()).decode()
            toc_html = ''
            if toc:
                base_lvl = min(n for n, _, _ in toc)
                parts, lvl = ['<h2>On this page</h2>', '<ul>'], base_lvl
                for n, sid, inner in toc:
                    n = max(n, base_lvl)
                    if n > lvl: parts.append('<ul>'); lvl = n
                    elif n < lvl: parts.append('</ul>'); lvl = n
                    parts.append(f'<li><a href="#{sid}">{inner}</a></li>')
                parts += ['</ul>'] * (lvl - base_lvl + 1)
                toc_html = '\n'.join(parts)
            staged.append((i, rel, p, soup, toc_html))
            ids[page_of(rel)] = {t['id'] for t in soup.find_all(id=True)}
        for i, rel, p, soup, toc_html in staged:
            self._fix_member_links(soup, rel, ids)
            prefix = '../' * len(rel.parent.parts)
            nav = []
            if i > 0:
                q = order[i - 1]
                nav.append(f'<a class="prev" href="{prefix}{page_of(q)}"><small>← Previous</small>{_md_inline(self.pages[q]["title"])}</a>')
            if i + 1 < len(order):
                q = order[i + 1]
                nav.append(f'<a class="next" href="{prefix}{page_of(q)}"><small>Next →</small>{_md_inline(self.pages[q]["title"])}</a>')
            desc = f'<p class="description">{_md_inline(p["description"])}</p>' if p['description'] else ''
            page = PAGE.format(
                page_title=html.escape(p['title']) + ' – ' + site_title, description_attr=html.escape(p['description']),
                prefix=prefix, mathjax=MATHJAX_HEAD.replace('{prefix}', prefix) if self.has_mathjax else '',
                site_title=site_title, site_desc=site_desc, sidebar=self.sidebar(rel), title=_md_inline(p['title']),
                description=desc, body=str(soup), prevnext=''.join(nav), toc=toc_html, source=self._src_name(rel),
                copyright=html.escape('© ' + str(self.cfg.get('copyright', ''))))
            dst = out/page_of(rel)
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_text(page, encoding='utf-8')

# ------------------------------------------------------------------------------------------------- checks

def check_site(site: Site):
    "Verify the built site as a reader would meet it; return (errors, warnings)."
    from bs4 import BeautifulSoup
    errors, warns = list(site.errors), list(site.warnings)
    out, ids, soups = site.out, {}, {}
    for rel in site.rels:
        f = out/page_of(rel)
        if not f.exists() or f.stat().st_size == 0:
            errors.append(f'{rel}: no page {page_of(rel)}'); continue
        soup = BeautifulSoup(f.read_text(encoding='utf-8'), 'html.parser')
        soups[rel] = soup
        ids[page_of(rel)] = {t['id'] for t in soup.find_all(id=True)} | {t['name'] for t in soup.find_all('a', attrs={'name': True})}
    for rel, soup in soups.items():
        page = page_of(rel)
        bad = []
        for a in soup.find_all('a', href=True):
            href = a['href']
            if re.match(r'^[a-z][a-z0-9+.-]*:', href, re.I) or not href: continue
            path, frag = (href.split('#', 1) + [None])[:2]
            if path and not path.endswith('.html'):
                if path.endswith('.ipynb'): bad.append(f'{href} (link to a notebook, not its page)')
                elif not (out/Path(page).parent/path).exists(): bad.append(f'{href} (no such file in the site)')
                continue
            target = os.path.normpath(os.path.join(Path(page).parent.as_posix(), path)).replace(os.sep, '/') if path else page
            if target not in ids and not (out/target).exists(): bad.append(f'{href} (no page {target})')
            elif frag and target in ids and frag not in ids[target]: bad.append(f'{href} (no #{frag} in {target})')
        for b in sorted(set(bad)): errors.append(f'{rel}: broken link {b}')
        figs = soup.select('main img')
        if rel.stem in FIGURE_TODO and not figs:
            warns.append(f'{rel}: chapter has no figure yet (listed in FIGURE_TODO of tools/build_docs.py)')
        elif rel.stem not in NO_FIGURE and not figs:
            errors.append(f'{rel}: chapter has no figure (<img>): run it with `python tools/run_nb.py {site._src_name(rel)}` '
                          f'so its plots are saved, or add a figure')
        bare = [i for i in figs if not i.find_parent('figure')]
        if bare:
            warns.append(f'{rel}: {len(bare)} of {len(figs)} figure(s) without a caption (add `#| fig-cap: ...` to the cell)')
        for pre in soup.select('.jp-InputArea pre'):
            if re.search(r'^\s*#\s*\|', pre.get_text(), re.M):
                errors.append(f'{rel}: a directive line (#|) is shown in a code cell: {pre.get_text().strip()[:60]!r}'); break
        for t in soup.find_all(['script', 'link', 'img', 'iframe']):
            u = t.get('src') or t.get('href') or ''
            if re.match(r'^(https?:)?//', u): errors.append(f'{rel}: loads {u} from the network (the site must work offline)')
        if not site.has_mathjax and re.search(r'\$[^$\s][^$]*\$', soup.select_one('main').get_text() if soup.select_one('main') else ''):
            warns.append(f'{rel}: math is shown as TeX (pip install jupyter-server-mathjax for offline MathJax)')
    if site.has_mathjax and not (out/'assets'/'mathjax'/'config'/'TeX-AMS-MML_HTMLorMML-full.js').exists():
        errors.append('assets/mathjax is incomplete')
    # sidebar.yml / nbdev.yml as nbdev_docs would write them
    for name, want in (('sidebar.yml', _sidebar_yml(site.nbs)), ('nbdev.yml', _nbdev_yml())):
        f = site.nbs/name
        if want is not None and (not f.exists() or f.read_text() != want):
            errors.append(f'nbs/{name} is out of date with the notebooks/settings.ini (quarto\'s sidebar would miss a '
                          f'chapter): run `python tools/build_docs.py` (or nbdev_docs) and commit it')
    return errors, warns

def _sidebar_yml(nbs: Path):
    import io, contextlib
    from nbdev.quarto import nbdev_sidebar
    from nbdev.config import get_config
    if get_config().custom_sidebar: return None
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf): nbdev_sidebar.__wrapped__(path=str(nbs), printit=True)
    return buf.getvalue()[:-1]     # print() added a newline

def _nbdev_yml():
    from nbdev.quarto import _nbdev_yml as tpl
    from nbdev.config import get_config
    cfg = get_config()
    vals = {k: cfg[k] for k in ['title', 'description', 'branch', 'git_url', 'doc_host', 'doc_baseurl']}
    vals['doc_path'] = cfg.doc_path.name
    return tpl.format(**vals)

def refresh_yml(nbs: Path):
    "Write nbs/sidebar.yml and nbs/nbdev.yml as nbdev_docs does (quarto reads them through _quarto.yml)."
    for name, want in (('sidebar.yml', _sidebar_yml(nbs)), ('nbdev.yml', _nbdev_yml())):
        f = nbs/name
        if want is not None and (not f.exists() or f.read_text() != want): f.write_text(want); print(f'wrote nbs/{name}')

# --------------------------------------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--out', default='_site', help='output folder (default _site, git-ignored)')
    ap.add_argument('--check', action='store_true', help='verify the built site; exit 1 with a list of problems')
    ap.add_argument('--nbs', default=None, help='notebook folder (default: nbs_path of settings.ini)')
    ap.add_argument('--strict', action='store_true', help='with --check: warnings are errors too')
    ap.add_argument('-q', '--quiet', action='store_true')
    a = ap.parse_args(argv)
    out, nbs = Path(a.out).resolve(), Path(a.nbs).resolve() if a.nbs else None
    os.chdir(root)                      # nbdev finds settings.ini from here
    t0 = time.time()
    from nbdev.config import get_config
    nbs = nbs or get_config().nbs_path
    if out.resolve() in (root, nbs.resolve()) or root.resolve().is_relative_to(out.resolve()):
        sys.exit(f'refusing to write the site into {out}')
    for old in out.rglob('*.html') if out.exists() else []: old.unlink()   # pages of removed notebooks go
    site = Site(out, nbs)
    if not site.rels: sys.exit(f'no notebooks in {nbs}')
    site.build(quiet=a.quiet or a.check)
    if not a.check:
        refresh_yml(nbs)
        for e in site.errors: print('error:', e)
        for w in site.warnings: print('warning:', w)
        print(f'open {out/"index.html"}')
        return 1 if site.errors else 0
    errors, warns = check_site(site)
    for w in warns: print('warning:', w)
    if a.strict: errors += [f'(--strict) {w}' for w in warns]
    dt = time.time() - t0
    if errors:
        print(f'docs check FAILED ({len(errors)} problem(s), {len(site.pages)}/{len(site.rels)} pages, {dt:.0f}s):')
        for e in errors: print('  -', e)
        return 1
    print(f'docs check passed: {len(site.pages)} pages in {out}, links resolve, every chapter has a figure ({dt:.0f}s)')
    return 0

if __name__ == '__main__': sys.exit(main())
