"""Plan nodes: what a statement does, as an immutable tree built once and run many times.

Each node produces rows (tuples); a node's ``width`` is the length of its rows. Expressions in
nodes are compiled closures taking ``(row, context)`` (:mod:`dialect.expr`), so a node holds no
state of one execution and a plan is safely cached and shared. Each node can describe itself
and the object-store requests it may make, which is all EXPLAIN prints: explaining runs
nothing. Execution lives in :mod:`dialect.exec.operators`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dialect.catalog import Column, Index, Table
from dialect.expr import Fn
from dialect.tablerows import RowCodec

_MEMORY = "none (computed in memory)"


@dataclass(frozen=True, eq=False)
class Node:
    """A step of a plan."""

    @property
    def width(self) -> int:
        raise NotImplementedError

    @property
    def children(self) -> tuple[Node, ...]:
        return ()

    def describe(self) -> str:
        raise NotImplementedError

    def requests(self) -> str:
        """The object-store requests this step may make (not counting its children)."""
        return _MEMORY


# -- reading a table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Bound:
    """One end of a key range: a value (evaluated at run time) and whether it is included."""

    value: Fn
    inclusive: bool
    text: str


@dataclass(frozen=True)
class KeyRange:
    """Keys whose leading columns equal ``prefix`` and whose next column lies within
    ``low``/``high`` (each optional). ``columns`` are the key's columns, in order."""

    columns: tuple[Column, ...]
    prefix: tuple[Fn, ...] = ()
    low: Bound | None = None
    high: Bound | None = None
    text: str = ""

    @property
    def bounded(self) -> bool:
        return bool(self.prefix) or self.low is not None or self.high is not None


@dataclass(frozen=True, eq=False)
class Access(Node):
    """Rows of one table. Its key expressions may read an input row (the left row of a lookup
    join) and the context; they never read the table itself."""

    codec: RowCodec

    @property
    def table(self) -> Table:
        return self.codec.table

    @property
    def width(self) -> int:
        return len(self.codec.table.columns)


@dataclass(frozen=True, eq=False)
class KeyGet(Access):
    """Rows by full primary keys (each a tuple of expressions), in key order."""

    keys: tuple[tuple[Fn, ...], ...] = ()
    reverse: bool = False

    def describe(self) -> str:
        n = len(self.keys)
        return f"GET {n} row{'s' if n != 1 else ''} of {self.table.name} by primary key"

    def requests(self) -> str:
        return f"at most {len(self.keys)} ranged GET(s); none for rows in memory or cached blocks"


@dataclass(frozen=True, eq=False)
class TableScan(Access):
    """Rows in primary-key order, all of them or those within a key range."""

    range: KeyRange | None = None
    reverse: bool = False

    def describe(self) -> str:
        order = " (descending)" if self.reverse else ""
        if self.range is None or not self.range.bounded:
            return f"SCAN {self.table.name} (full table){order}"
        return f"SCAN {self.table.name} primary-key range {self.range.text}{order}"

    def requests(self) -> str:
        return "one ranged GET per SST block read and not cached; none for rows in memory"


@dataclass(frozen=True, eq=False)
class IndexScan(Access):
    """Rows found through a secondary index's entries within a range, in index order."""

    index: Index | None = None
    range: KeyRange | None = None
    reverse: bool = False

    def describe(self) -> str:
        assert self.index is not None and self.range is not None
        return f"SCAN index {self.index.name} {self.range.text}, then GET rows of {self.table.name}"

    def requests(self) -> str:
        return "one ranged GET per index block and per row's block not cached"


@dataclass(frozen=True, eq=False)
class Nothing(Node):
    """No rows: a condition that can never be true."""

    columns: int
    reason: str

    @property
    def width(self) -> int:
        return self.columns

    def describe(self) -> str:
        return f"NOTHING to read ({self.reason})"

    def requests(self) -> str:
        return "none"


@dataclass(frozen=True, eq=False)
class ConstantRow(Node):
    """One row of no columns (a SELECT without FROM)."""

    @property
    def width(self) -> int:
        return 0

    def describe(self) -> str:
        return "CONSTANT ROW"


@dataclass(frozen=True, eq=False)
class Values(Node):
    """Rows given as expressions (VALUES, INSERT … VALUES)."""

    rows: tuple[tuple[Fn, ...], ...]
    columns: int

    @property
    def width(self) -> int:
        return self.columns

    def describe(self) -> str:
        return f"VALUES {len(self.rows)} row(s)"


@dataclass(frozen=True, eq=False)
class ParamRows(Node):
    """Rows made of the parameters in order, ``columns`` at a time (``INSERT … VALUES (?, ?),
    (?, ?)``): nothing to evaluate."""

    columns: int
    rows: int

    @property
    def width(self) -> int:
        return self.columns

    def describe(self) -> str:
        return f"VALUES {self.rows} row(s) of parameters"


# -- row-by-row steps ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Unary(Node):
    """A step over the rows of one ``child``; as wide as it unless it says otherwise."""

    child: Node

    @property
    def width(self) -> int:
        return self.child.width

    @property
    def children(self) -> tuple[Node, ...]:
        return (self.child,)


@dataclass(frozen=True, eq=False)
class Filter(Unary):
    """The rows of ``child`` for which ``condition`` is true."""

    condition: Fn
    text: str

    def describe(self) -> str:
        return f"FILTER {self.text}"


@dataclass(frozen=True, eq=False)
class Project(Unary):
    """Each row of ``child`` mapped through ``exprs``; ``positions``, when every expression
    copies a column of the input, says which (so rows can be picked without evaluating)."""

    exprs: tuple[Fn, ...]
    names: tuple[str, ...]
    positions: tuple[int, ...] | None = None

    @property
    def width(self) -> int:
        return len(self.exprs)

    def describe(self) -> str:
        return f"PROJECT {', '.join(self.names)}"


@dataclass(frozen=True, eq=False)
class Join(Node):
    """Rows of ``left`` joined with rows of ``right`` (``left_outer``: a left row with no match
    is padded with NULLs). How right rows are found depends on the subclass."""

    left: Node
    right: Node
    condition: Fn | None
    left_outer: bool
    text: str

    @property
    def width(self) -> int:
        return self.left.width + self.right.width

    @property
    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)

    @property
    def kind(self) -> str:
        return "LEFT JOIN" if self.left_outer else "JOIN"


@dataclass(frozen=True, eq=False)
class NestedLoopJoin(Join):
    """Every pair of rows is tested (``right`` is read once per execution)."""

    def describe(self) -> str:
        return f"{self.kind} by nested loop{' ON ' + self.text if self.text else ''}"


@dataclass(frozen=True, eq=False)
class HashJoin(Join):
    """``right`` is read once into a hash table on ``right_keys``; each left row probes it."""

    left_keys: tuple[Fn, ...] = ()
    right_keys: tuple[Fn, ...] = ()

    def describe(self) -> str:
        return f"{self.kind} by hash on {self.text}"


@dataclass(frozen=True, eq=False)
class LookupJoin(Join):
    """For each left row, ``right`` (an access whose keys read the left row) is read."""

    def describe(self) -> str:
        return f"{self.kind} by key lookup per row on {self.text}"


@dataclass(frozen=True, eq=False)
class OuterJoin(Node):
    """RIGHT JOIN (``keep_left`` false) or FULL JOIN: the pairs of ``left`` and ``right`` rows
    for which ``condition`` holds, in left-row order; with ``keep_left``, a left row with no
    match padded with NULLs; then each right row no left row matched, padded on the left (as
    SQLite orders them). ``right`` is read once, into a hash table on ``right_keys`` when the
    condition has equalities."""

    left: Node
    right: Node
    condition: Fn | None
    keep_left: bool
    text: str
    left_keys: tuple[Fn, ...] = ()
    right_keys: tuple[Fn, ...] = ()

    @property
    def width(self) -> int:
        return self.left.width + self.right.width

    @property
    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)

    def describe(self) -> str:
        kind = "FULL JOIN" if self.keep_left else "RIGHT JOIN"
        how = "by hash" if self.left_keys else "by nested loop"
        return f"{kind} {how}{' ON ' + self.text if self.text else ''}"


# -- whole-input steps --------------------------------------------------------------------------


@dataclass(frozen=True)
class AggregateCall:
    """One aggregate: its function, argument (None for ``count(*)``), DISTINCT, and the
    separator of ``group_concat``."""

    function: str  # count, sum, total, avg, min, max, group_concat
    argument: Fn | None
    distinct: bool = False
    separator: str = ","


@dataclass(frozen=True, eq=False)
class Aggregate(Unary):
    """Groups of ``child`` rows by ``keys``. Each output row is the group's first input row,
    then one value per aggregate, then the key values; ``having`` filters groups. Without
    keys there is exactly one group, even over no rows."""

    keys: tuple[Fn, ...]
    calls: tuple[AggregateCall, ...]
    having: Fn | None = None

    @property
    def width(self) -> int:
        return self.child.width + len(self.calls) + len(self.keys)

    def describe(self) -> str:
        return f"GROUP BY {len(self.keys)} key(s), {len(self.calls)} aggregate(s)"


@dataclass(frozen=True)
class FrameBound:
    """One end of a window frame: ``unbounded`` (UNBOUNDED PRECEDING at the start, UNBOUNDED
    FOLLOWING at the end), ``current`` (CURRENT ROW), or ``preceding``/``following`` by
    ``offset`` (a constant expression)."""

    kind: str  # unbounded, current, preceding, following
    offset: Fn | None = None


@dataclass(frozen=True)
class WindowCall:
    """One window function call: its function and arguments, the partition and order of its
    window, and its frame (``rows`` or ``range``). ``order`` says, per ORDER BY term, its
    direction and where NULLs go (``position`` counts from the first ORDER BY term).
    ``aggregate`` is set for an aggregate over the frame. ``sort_text`` names the partition
    and order, so calls sharing them share one sort."""

    function: str
    arguments: tuple[Fn, ...]
    partition: tuple[Fn, ...]
    order_by: tuple[Fn, ...]
    order: tuple[SortKey, ...]
    frame: str  # rows, range
    start: FrameBound
    end: FrameBound
    aggregate: AggregateCall | None
    sort_text: str
    text: str


@dataclass(frozen=True, eq=False)
class Distinct(Unary):
    """Rows of ``child`` whose first ``columns`` values were not seen before."""

    columns: int

    def describe(self) -> str:
        return "DISTINCT"


@dataclass(frozen=True)
class SortKey:
    """Order by the value at ``position``; NULLs first unless ``nulls_first`` is False
    (SQLite's default: first ascending, last descending)."""

    position: int
    descending: bool
    nulls_first: bool = True


@dataclass(frozen=True, eq=False)
class Sort(Unary):
    """Rows of ``child`` ordered by the values at ``keys``."""

    keys: tuple[SortKey, ...]

    def describe(self) -> str:
        return f"SORT by {len(self.keys)} key(s)"


@dataclass(frozen=True, eq=False)
class Window(Unary):
    """Rows of ``child`` (read in full), each followed by one value per window function call
    (in ``calls`` order), in the order of the first call's partition and ORDER BY."""

    calls: tuple[WindowCall, ...]

    @property
    def width(self) -> int:
        return self.child.width + len(self.calls)

    def describe(self) -> str:
        return f"WINDOW {', '.join(c.text for c in self.calls)}"


@dataclass(frozen=True, eq=False)
class Limit(Unary):
    """At most ``limit`` rows after skipping ``offset``; reading stops once it has enough."""

    limit: Fn | None
    offset: Fn | None
    text: str

    def describe(self) -> str:
        return f"LIMIT {self.text}"


@dataclass(frozen=True, eq=False)
class FetchFirst(Unary):
    """``OFFSET … FETCH FIRST n [PERCENT] ROWS WITH TIES`` (plain ``FETCH FIRST n ROWS ONLY``
    is a :class:`Limit`): after skipping ``offset`` rows, ``count`` rows (with ``percent``,
    that percentage of all the rows, rounded up; the rows are then read in full), and with
    ``ties`` (the ORDER BY keys) the rows after them that equal the last one on those keys."""

    count: Fn
    offset: Fn | None
    percent: bool
    ties: tuple[SortKey, ...]
    text: str

    def describe(self) -> str:
        return f"FETCH {self.text}"


@dataclass(frozen=True, eq=False)
class Trim(Unary):
    """The first ``columns`` values of each row (drops columns kept only for sorting)."""

    columns: int

    @property
    def width(self) -> int:
        return self.columns

    def describe(self) -> str:
        return f"KEEP {self.columns} column(s)"


@dataclass(frozen=True, eq=False)
class SetOperation(Node):
    """UNION, INTERSECT or EXCEPT of two inputs of the same width."""

    operator: str  # UNION, INTERSECT, EXCEPT
    left: Node
    right: Node
    distinct: bool

    @property
    def width(self) -> int:
        return self.left.width

    @property
    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)

    def describe(self) -> str:
        return self.operator + ("" if self.distinct else " ALL")


@dataclass(frozen=True, eq=False)
class CteScan(Unary):
    """The rows of common table expression ``name``, whose plan is ``child``. One node serves
    every reference to the CTE; when ``cached`` (it reads no enclosing query), the rows read in
    full the first time are kept for the rest of the execution, so the CTE runs once."""

    name: str
    cached: bool

    def describe(self) -> str:
        kept = " (rows kept for this execution)" if self.cached else ""
        return f"CTE {self.name}{kept}"


@dataclass(frozen=True, eq=False)
class WorkingTable(Node):
    """The rows a recursive CTE's recursive part reads: those the previous step produced (the
    :class:`RecursiveUnion` that owns it puts them in the run context)."""

    name: str
    columns: int

    @property
    def width(self) -> int:
        return self.columns

    def describe(self) -> str:
        return f"ROWS of the previous step of {self.name}"


@dataclass(frozen=True, eq=False)
class RecursiveUnion(Node):
    """A recursive CTE: the rows of ``initial``, then the rows ``recursive`` produces from each
    step's new rows (read through ``working``) until a step produces none. With ``distinct``
    (UNION), rows seen before are dropped and not fed back."""

    initial: Node
    recursive: Node
    working: WorkingTable
    distinct: bool

    @property
    def width(self) -> int:
        return self.initial.width

    @property
    def children(self) -> tuple[Node, ...]:
        return (self.initial, self.recursive)

    def describe(self) -> str:
        return f"RECURSIVE {self.working.name} by UNION{'' if self.distinct else ' ALL'}"


# -- writes ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Target:
    """The table a write node changes, with each column's DEFAULT (None: no default) and each
    CHECK constraint (its name or text, and its condition) compiled."""

    codec: RowCodec
    defaults: tuple[Fn | None, ...]
    checks: tuple[tuple[str, Fn], ...]

    @property
    def table(self) -> Table:
        return self.codec.table


@dataclass(frozen=True, eq=False)
class Write(Node):
    """Rows of ``source`` written to ``target``; a write returns no rows."""

    target: Target
    source: Node

    @property
    def width(self) -> int:
        return 0

    @property
    def children(self) -> tuple[Node, ...]:
        return (self.source,)


@dataclass(frozen=True, eq=False)
class Insert(Write):
    """Rows of ``source`` written into ``table`` at column ``positions``. ``mode`` is None,
    REPLACE or IGNORE (what a key or UNIQUE conflict does). A source that reads the table
    itself is read in full before the first write."""

    positions: tuple[int, ...]
    mode: str | None
    reads_target: bool
    #: what a uniqueness conflict does instead (an upsert); None: ``mode`` decides
    on_conflict: OnConflict | None = None

    def describe(self) -> str:
        mode = f" OR {self.mode}" if self.mode else ""
        upsert = f" {self.on_conflict.describe()}" if self.on_conflict else ""
        return f"INSERT{mode} rows and index entries of {self.target.table.name}{upsert}"

    def requests(self) -> str:
        return "a GET per new key to check it is free; no PUT until COMMIT"


@dataclass(frozen=True, eq=False)
class OnConflict:
    """An INSERT's ON CONFLICT clause. The conflict target is the primary key (``on_key``), a
    UNIQUE index (``index``), or, when neither is set, any uniqueness constraint. With
    ``sets`` empty the clause is DO NOTHING; else DO UPDATE: each ``(position, value)`` of
    ``sets`` and ``where`` read the stored row followed by the row proposed (``excluded``)."""

    on_key: bool
    index: Index | None
    sets: tuple[tuple[int, Fn], ...] = ()
    where: Fn | None = None

    def describe(self) -> str:
        target = "PRIMARY KEY" if self.on_key else self.index.name if self.index else "any"
        action = "DO UPDATE" if self.sets else "DO NOTHING"
        return f"ON CONFLICT ({target}) {action}"


@dataclass(frozen=True, eq=False)
class Returning(Node):
    """The rows a write changed (new rows for INSERT and UPDATE, old rows for DELETE), with
    ``exprs`` computed over each: a write's RETURNING clause. The write runs in full when the
    statement runs, before the first row is returned, as in SQLite."""

    write: Write
    exprs: tuple[Fn, ...]
    names: tuple[str, ...]

    @property
    def width(self) -> int:
        return len(self.exprs)

    @property
    def children(self) -> tuple[Node, ...]:
        return (self.write,)

    def describe(self) -> str:
        return f"RETURNING {', '.join(self.names)} of each row written"


@dataclass(frozen=True, eq=False)
class Update(Write):
    """Each row of ``source`` (rows of ``table``) rewritten with ``sets`` applied."""

    sets: tuple[tuple[int, Fn], ...]

    def describe(self) -> str:
        return f"UPDATE matching rows of {self.target.table.name} and their index entries"


@dataclass(frozen=True, eq=False)
class Delete(Write):
    """Each row of ``source`` (rows of ``table``) deleted with its index entries."""

    def describe(self) -> str:
        return f"DELETE matching rows of {self.target.table.name} and their index entries"


@dataclass(frozen=True, eq=False)
class Plan:
    """A planned statement: its root, the names and type codes of its result columns (none
    for writes), and the tables whose definitions it relies on."""

    root: Node
    names: tuple[str, ...] = ()
    types: tuple[str | None, ...] = ()
    tables: tuple[int, ...] = field(default=())
    #: SELECT … FOR UPDATE / FOR SHARE: the run watches every key and range it reads
    watch_reads: bool = False
    #: true for a query (rows to return), false for a write
    is_query: bool = field(init=False, default=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "is_query", not isinstance(self.root, Write | Returning))

    def lines(self) -> list[tuple[int, str, str]]:
        """The tree, depth first: (depth, description, requests) per node."""
        out: list[tuple[int, str, str]] = []

        def walk(node: Node, depth: int) -> None:
            out.append((depth, node.describe(), node.requests()))
            for child in node.children:
                walk(child, depth + 1)

        walk(self.root, 0)
        return out
