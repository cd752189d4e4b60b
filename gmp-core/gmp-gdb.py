# gmp's gdb extension: goroutines in gdb, as Go's runtime-gdb.py gives them for Go.
#
#   info goroutines               id, state, wait reason, current function ("*": running
#                                 on an M)
#   goroutine <id|all> <command>  runs a gdb command (bt, info frame, ...) with the
#                                 registers set to a parked goroutine's saved SP, PC and
#                                 BP, then puts the thread's registers back
#
# Embedded in every binary that links gmp (gmp-core's `debugger_visualizer`): gdb loads it
# when the binary's directory is in `auto-load safe-path`; `source gmp-gdb.py` works too.
# Works on a live process (gdb -p PID) and on a core file (gcore).
#
# How it finds goroutines: gmp-core keeps a C-layout list of its stack chunks at the
# symbol `gmp_core_debug_chunks` and the G header's layout at `gmp_core_debug_layout`
# (gmp-core/src/proc/traceback.rs); every stack slot's G header sits at its top. A G
# whose `seq` is odd runs on an M (its registers are that thread's); an even one is
# saved in its Gobuf.

import gdb
import gdb.unwinder
from gdb.unwinder import Unwinder

# WaitReason in gmp-core/src/proc/traceback.rs, in order.
REASONS = [
    "waiting", "chan receive", "chan send", "select", "select (no cases)", "IO wait",
    "sleep", "sync.Mutex.Lock", "sync.RWMutex.RLock", "sync.RWMutex.Lock",
    "sync.Cond.Wait", "sync.WaitGroup.Wait", "semacquire", "barrier wait", "join",
    "blocking", "park forever", "yield", "off-P call",
]
G_RUNNABLE, G_RUNNING, G_WAITING = 1, 2, 3
# Frames of the runtime and std: `info goroutines` names the first frame past them.
RUNTIME_PREFIXES = ("gmp_core::", "core::", "std::", "alloc::", "<core::", "<alloc::",
                    "<std::", "gmp_net::", "<gmp_core::")


def _u64(addr):
    return int.from_bytes(bytes(gdb.selected_inferior().read_memory(addr, 8)), "little")


def _u32(addr):
    return int.from_bytes(bytes(gdb.selected_inferior().read_memory(addr, 4)), "little")


def _symbol_address(name):
    lang = gdb.parameter("language")
    gdb.execute("set language c", to_string=True)
    try:
        return int(gdb.parse_and_eval("(unsigned long)&%s" % name))
    finally:
        gdb.execute("set language %s" % lang, to_string=True)


class G(object):
    def __init__(self, addr, layout):
        header, o_sched, o_status, o_seq, o_id, o_wait, o_locked = layout
        self.addr = addr
        self.sp = _u64(addr + o_sched)
        self.pc = _u64(addr + o_sched + 8)
        self.bp = _u64(addr + o_sched + 16)
        self.status = _u32(addr + o_status)
        self.seq = _u32(addr + o_seq)
        self.id = _u64(addr + o_id)
        wait = _u64(addr + o_wait)
        reason = wait & 0xff
        self.reason = REASONS[reason] if reason < len(REASONS) else "?"
        self.locked = _u64(addr + o_locked) != 0

    def running(self):
        return self.seq & 1 == 1

    def state(self):
        if self.running():
            return "blocking" if self.reason == "blocking" else "running"
        if self.status == G_WAITING:
            return "waiting"
        return "runnable"


def goroutines():
    """Every goroutine of every runtime in the process, by id."""
    layout_at = _symbol_address("gmp_core_debug_layout")
    version = _u64(layout_at)
    if version != 1:
        raise gdb.GdbError("gmp-gdb.py: unknown G layout version %d" % version)
    layout = [_u64(layout_at + 8 * i) for i in range(1, 8)]
    header = layout[0]
    gs = []
    rec = _u64(_symbol_address("gmp_core_debug_chunks"))
    while rec:
        base, length, slot, nxt = (_u64(rec + 8 * i) for i in range(4))
        at = base
        while length and at + slot <= base + length:
            g = at + slot - header
            try:
                st = _u32(g + layout[2])
                if st in (G_RUNNABLE, G_RUNNING, G_WAITING):
                    gs.append(G(g, layout))
            except gdb.MemoryError:
                pass  # not in the core file, or never touched
            at += slot
        rec = nxt
    gs.sort(key=lambda g: g.id)
    return gs


def find(gid):
    for g in goroutines():
        if g.id == gid:
            return g
    raise gdb.GdbError("no goroutine %d" % gid)


class GoroutineUnwinder(Unwinder):
    """Where registers cannot be written (a core file): the thread's innermost frame is
    given the goroutine's saved context as its caller, so `bt` shows the thread's frame
    #0, then the goroutine's stack from #1."""

    def __init__(self):
        Unwinder.__init__(self, "gmp-goroutine")
        self.g = None
        self.inner_sp = None

    def __call__(self, pending):
        if self.g is None:
            return None
        sp = pending.read_register("rsp")
        if int(sp) != self.inner_sp:
            return None
        ui = pending.create_unwind_info(FrameId(sp, pending.read_register("rip")))
        for reg, v in (("rip", self.g.pc), ("rsp", self.g.sp), ("rbp", self.g.bp)):
            ui.add_saved_register(reg, gdb.Value(v).cast(pending.read_register(reg).type))
        return ui


class FrameId(object):
    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


UNWINDER = GoroutineUnwinder()
gdb.unwinder.register_unwinder(None, UNWINDER, replace=True)


class SavedRegisters(object):
    """Points the selected thread's registers at a goroutine's saved context, and back;
    on a core file, whose registers are read-only, makes it the innermost frame's caller
    instead (GoroutineUnwinder)."""

    def __init__(self, g):
        self.g = g
        self.unwound = False

    def __enter__(self):
        self.frame = gdb.selected_frame()
        gdb.execute("select-frame 0", to_string=True)
        self.saved = [int(gdb.parse_and_eval("(unsigned long)$%s" % r))
                      for r in ("rsp", "rip", "rbp")]
        try:
            self._set(self.g.sp, self.g.pc, self.g.bp)
        except gdb.error:
            UNWINDER.g, UNWINDER.inner_sp = self.g, self.saved[0]
            self.unwound = True
            gdb.invalidate_cached_frames()
        return self

    def __exit__(self, *exc):
        if self.unwound:
            UNWINDER.g = None
            gdb.invalidate_cached_frames()
        else:
            self._set(*self.saved)
        try:
            self.frame.select()
        except gdb.error:
            pass
        return False

    @staticmethod
    def _set(sp, pc, bp):
        lang = gdb.parameter("language")
        gdb.execute("set language c", to_string=True)
        try:
            gdb.execute("set $rsp = 0x%x" % sp, to_string=True)
            gdb.execute("set $rip = 0x%x" % pc, to_string=True)
            gdb.execute("set $rbp = 0x%x" % bp, to_string=True)
        finally:
            gdb.execute("set language %s" % lang, to_string=True)


def user_function(g):
    """The first frame of a parked goroutine that is not the runtime's or std's."""
    with SavedRegisters(g) as regs:
        f = gdb.newest_frame()
        if regs.unwound:
            f = f.older()  # frame #0 is the thread's own
        first = None
        for _ in range(64):
            if f is None:
                break
            name = f.name() or "?"
            if name.startswith("gmp_core_g_trampoline"):
                if first is None:
                    return "(not started)"
                break
            first = first or name
            if not name.startswith(RUNTIME_PREFIXES):
                return name
            f = f.older()
        return first or "?"


class InfoGoroutines(gdb.Command):
    """info goroutines: every goroutine's id, state, wait reason and current function.
A "*" marks a goroutine running on an M (its stack is that thread's: see `info threads`)."""

    def __init__(self):
        gdb.Command.__init__(self, "info goroutines", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        for g in goroutines():
            if g.running():
                fn = "(on an M: see info threads)"
                mark, why = "*", ""
            else:
                try:
                    fn = user_function(g)
                except gdb.error as e:
                    fn = "? (%s)" % e
                mark = " "
                why = g.reason if g.state() == "waiting" else ""
                if g.locked and why:
                    why += ", locked to thread"
            print("%s %6d %-9s %-20s %s" % (mark, g.id, g.state(), why, fn))


class GoroutineCmd(gdb.Command):
    """goroutine <id|all> <gdb command>: run the command on a parked goroutine's stack.
The thread's registers are set to the goroutine's saved SP, PC and BP for the command
and restored afterwards. Example: goroutine 12 bt"""

    def __init__(self):
        gdb.Command.__init__(self, "goroutine", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        parts = arg.split(None, 1)
        if len(parts) != 2:
            raise gdb.GdbError("usage: goroutine <id|all> <gdb command>")
        which, cmd = parts
        if which == "all":
            gs = goroutines()
        else:
            try:
                gs = [find(int(which))]
            except ValueError:
                raise gdb.GdbError("goroutine: %r is not a goroutine id or all" % which)
        for g in gs:
            print("goroutine %d [%s]:" % (g.id, g.reason if g.state() == "waiting" else g.state()))
            if g.running():
                print("\trunning on an M: select its thread (info threads) to see its stack")
                continue
            with SavedRegisters(g):
                gdb.execute(cmd)


InfoGoroutines()
GoroutineCmd()
