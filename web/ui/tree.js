// The topic tree: a model updated from the server's batches, and a view
// that renders only the rows on screen, so that tens of thousands of topics
// stay fast.

const ROW = 24; // px, as --row in style.css
const FLASH_MS = 1500;
// The tree opens its first OPEN_DEPTH levels ($SYS aside) by itself, as
// long as that shows at most OPEN_ROWS rows, until the user opens or closes
// a branch.
const OPEN_DEPTH = 2;
const OPEN_ROWS = 200;

function node(name, path, parent) {
  return {
    name, path, parent, depth: parent ? parent.depth + 1 : -1,
    children: new Map(), sorted: null,
    count: 0,      // messages of this topic
    total: 0,      // messages of the subtree
    topics: 0,     // topics with a value in the subtree
    hasValue: false, value: '', binary: false, size: 0, retained: false, qos: 0, publisher: '', at: 0,
    flash: 0,      // when it or a descendant last changed (page clock)
    expanded: false,
  };
}

export class TopicTree {
  constructor() {
    this.root = node('', '', null);
    this.byPath = new Map();
  }

  get(path) { return this.byPath.get(path); }

  ensure(path) {
    let n = this.byPath.get(path);
    if (n) return [n, false];
    let cur = this.root;
    let at = 0;
    const levels = path.split('/');
    for (let i = 0; i < levels.length; i++) {
      const name = levels[i];
      at += (i ? 1 : 0) + name.length;
      let next = cur.children.get(name);
      if (!next) {
        next = node(name, path.slice(0, at), cur);
        cur.children.set(name, next);
        cur.sorted = null;
        this.byPath.set(next.path, next);
      }
      cur = next;
    }
    return [cur, true];
  }

  // apply takes one update {t, n, at, v, b, s, r, q, p}; it reports whether
  // the tree's shape changed.
  apply(u, now) {
    const [n, created] = this.ensure(u.t);
    const delta = u.n - n.count;
    if (delta !== 0) {
      for (let a = n; a; a = a.parent) a.total += delta;
    }
    if (!n.hasValue) {
      n.hasValue = true;
      for (let a = n; a; a = a.parent) a.topics++;
    }
    n.count = u.n; n.value = u.v; n.binary = !!u.b; n.size = u.s; n.retained = !!u.r;
    n.qos = u.q; n.publisher = u.p || ''; n.at = u.at || 0;
    if (delta > 0 && now) {
      for (let a = n; a; a = a.parent) a.flash = now;
    }
    return created;
  }

  expandedPaths() {
    const out = new Set();
    for (const [p, n] of this.byPath) if (n.expanded) out.add(p);
    return out;
  }
}

export function sortedChildren(n) {
  if (!n.sorted) {
    n.sorted = [...n.children.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
  return n.sorted;
}

export class TreeView {
  constructor(el, { onSelect }) {
    this.el = el;
    this.spacer = el.querySelector('.tree-spacer');
    this.onSelect = onSelect;
    this.tree = new TopicTree();
    this.rows = [];
    this.rowOf = new Map(); // node -> its row element, for the nodes on screen
    this.free = [];         // row elements not in use
    this.filter = '';
    this.showSys = true;
    this.selected = null;
    this.needRebuild = true;
    this.pending = false;
    this.autoOpen = true; // until the user opens or closes a branch
    el.addEventListener('scroll', () => this.schedule());
    el.addEventListener('click', (e) => this.click(e));
    el.addEventListener('keydown', (e) => this.key(e));
    new ResizeObserver(() => this.schedule()).observe(el);
  }

  reset(tree) {
    const open = this.tree.expandedPaths();
    for (const p of open) {
      const n = tree.get(p);
      if (n) n.expanded = true;
    }
    this.tree = tree;
    if (this.selected) this.selected = tree.get(this.selected.path) || null;
    this.needRebuild = true;
    this.schedule();
  }

  update(updates) {
    const now = performance.now();
    let shape = false;
    for (const u of updates) shape = this.tree.apply(u, now) || shape;
    if (shape) this.needRebuild = true;
    this.schedule();
  }

  setFilter(f) { this.filter = f.trim().toLowerCase(); this.needRebuild = true; this.schedule(); }
  setShowSys(v) { this.showSys = v; this.needRebuild = true; this.schedule(); }
  collapseAll() { this.autoOpen = false; for (const n of this.tree.byPath.values()) n.expanded = false; this.needRebuild = true; this.schedule(); }

  // openFirstLevels opens the branches of the first OPEN_DEPTH levels,
  // level by level, while the rows shown stay within OPEN_ROWS. $SYS, the
  // broker's own hundred-odd topics, stays closed.
  openFirstLevels() {
    let level = sortedChildren(this.tree.root).filter((n) => n.name !== '$SYS');
    let rows = this.tree.root.children.size;
    for (let d = 0; d < OPEN_DEPTH && level.length; d++) {
      const branches = level.filter((n) => n.children.size > 0);
      const more = branches.reduce((k, n) => k + (n.expanded ? 0 : n.children.size), 0);
      if (rows + more > OPEN_ROWS) return;
      rows += more;
      for (const n of branches) n.expanded = true;
      level = branches.flatMap((n) => sortedChildren(n));
    }
  }

  // reveal expands the ancestors of path and scrolls to it.
  reveal(path) {
    const n = this.tree.get(path);
    if (!n) return;
    for (let a = n.parent; a && a.parent; a = a.parent) a.expanded = true;
    this.selected = n;
    this.rebuild();
    const i = this.rows.indexOf(n);
    if (i >= 0) this.el.scrollTop = Math.max(0, i * ROW - this.el.clientHeight / 2);
    this.schedule();
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.render(); });
  }

  rebuild() {
    this.needRebuild = false;
    if (this.autoOpen) this.openFirstLevels();
    const rows = [];
    const f = this.filter;
    const visit = (n) => {
      for (const c of sortedChildren(n)) {
        if (c.depth === 0 && c.name === '$SYS' && !this.showSys) continue;
        if (f) {
          if (!matches(c, f)) continue;
          rows.push(c);
          visit(c); // a filter shows every matching branch opened
        } else {
          rows.push(c);
          if (c.expanded) visit(c);
        }
      }
    };
    visit(this.tree.root);
    this.rows = rows;
  }

  render() {
    if (this.needRebuild) this.rebuild();
    const el = this.el;
    this.spacer.style.height = `${this.rows.length * ROW}px`;
    const first = Math.max(0, Math.floor(el.scrollTop / ROW) - 5);
    const last = Math.min(this.rows.length, Math.ceil((el.scrollTop + el.clientHeight) / ROW) + 5);
    const now = performance.now();
    // A row element keeps showing the same node while that node is on
    // screen, so that a click (or a test's element handle) never lands on
    // another topic because the rows moved in between.
    const shown = new Map();
    for (let i = first; i < last; i++) shown.set(this.rows[i], i);
    for (const [n, row] of this.rowOf) {
      if (!shown.has(n)) {
        this.rowOf.delete(n);
        row.hidden = true;
        row.node = null;
        this.free.push(row);
      }
    }
    for (const [n, i] of shown) {
      let row = this.rowOf.get(n);
      if (!row) {
        row = this.free.pop() || this.newRow();
        row.flashed = 0;
        row.classList.remove('flash');
        this.rowOf.set(n, row);
      }
      row.hidden = false;
      row.style.top = `${i * ROW}px`;
      row.node = n;
      fill(row, n, n === this.selected, this.filter !== '');
      const fresh = n.flash > 0 && now - n.flash < FLASH_MS;
      if (fresh && row.flashed !== n.flash) {
        row.classList.remove('flash');
        void row.offsetWidth; // restart the animation
        row.classList.add('flash');
        row.flashed = n.flash;
      } else if (!fresh) {
        row.classList.remove('flash');
      }
    }
  }

  newRow() {
    const r = document.createElement('div');
    r.className = 'row';
    r.setAttribute('role', 'treeitem');
    r.innerHTML = '<span class="twisty"></span><span class="name"></span><span class="counts"></span><span class="ret" hidden>R</span><span class="value"></span>';
    this.el.appendChild(r);
    return r;
  }

  click(e) {
    const row = e.target.closest('.row');
    if (!row || !row.node) return;
    const n = row.node;
    if (e.target.classList.contains('twisty') || (n.children.size > 0 && !n.hasValue)) {
      n.expanded = !n.expanded;
      this.autoOpen = false;
      this.needRebuild = true;
    }
    this.select(n);
  }

  select(n) {
    this.selected = n;
    this.schedule();
    this.onSelect(n);
  }

  key(e) {
    if (!this.selected) return;
    const i = this.rows.indexOf(this.selected);
    let n = null;
    switch (e.key) {
      case 'ArrowDown': n = this.rows[i + 1]; break;
      case 'ArrowUp': n = this.rows[i - 1]; break;
      case 'ArrowRight': this.autoOpen = false; this.selected.expanded = true; this.needRebuild = true; this.schedule(); break;
      case 'ArrowLeft':
        if (this.selected.expanded) { this.autoOpen = false; this.selected.expanded = false; this.needRebuild = true; this.schedule(); }
        else if (this.selected.parent && this.selected.parent.parent) n = this.selected.parent;
        break;
      default: return;
    }
    e.preventDefault();
    if (n) {
      this.select(n);
      const top = this.rows.indexOf(n) * ROW;
      if (top < this.el.scrollTop) this.el.scrollTop = top;
      else if (top + ROW > this.el.scrollTop + this.el.clientHeight) this.el.scrollTop = top + ROW - this.el.clientHeight;
    }
  }
}

// matches reports whether n or a descendant's path contains f.
function matches(n, f) {
  if (n.path.toLowerCase().includes(f)) return true;
  for (const c of n.children.values()) if (matches(c, f)) return true;
  return false;
}

function fill(row, n, selected, filtering) {
  const [tw, name, counts, ret, value] = row.children;
  row.classList.toggle('selected', selected);
  row.style.paddingLeft = `${4 + n.depth * 16}px`;
  tw.textContent = n.children.size ? (n.expanded || filtering ? '▾' : '▸') : '';
  name.textContent = n.name === '' ? '(empty)' : n.name;
  name.classList.toggle('empty', n.name === '');
  counts.textContent = n.children.size
    ? `(${n.topics} topic${n.topics === 1 ? '' : 's'}, ${n.total} msg${n.total === 1 ? '' : 's'})`
    : `(${n.count} msg${n.count === 1 ? '' : 's'})`;
  ret.hidden = !n.retained;
  value.textContent = n.hasValue ? (n.binary ? `0x${n.value}` : n.value) : '';
  value.classList.toggle('binary', n.binary);
  row.title = n.path;
  row.setAttribute('aria-selected', selected ? 'true' : 'false');
}
