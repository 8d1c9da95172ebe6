/*
 * The advance-phase protocol (functions/advance-phase/src) as a Promela model: one Action on the
 * API server, the ApiServerSource that loses and duplicates its events, the broker that
 * redelivers on 503 + Retry-After or on no answer, two reconciles in flight at once (two
 * replicas) that can crash at any step, the sweep, the tick, and a user who edits the delay,
 * pauses, and deletes and re-creates. test/model/README.md explains the abstraction and bounds.
 *
 * The decision and the answer are the real `decide` and `replyTo`, tabled by
 * test/model/gen-decide.ts into decide.pml. Every step prints an @-line; test/model/replay.ts
 * replays a trail's @-lines through the real `reconcile` against test/support/model-store.ts.
 */
#include "decide.pml"

/* ---- the run's configuration and fault budgets (override with -D) ---- */
#ifndef DELAY0
#define DELAY0 1        /* spec.delay at creation */
#endif
#ifndef EDIT_DELAY
#define EDIT_DELAY 255  /* the delay one user edit sets (255: no edit) */
#endif
#ifndef PAUSE
#define PAUSE 0         /* 1: the user pauses once, and may unpause */
#endif
#ifndef RECREATE
#define RECREATE 0      /* 1: the user deletes the Action and creates it again (a new uid) */
#endif
#ifndef CRASHES
#define CRASHES 1       /* reconciles killed at any step, or answers lost */
#endif
#ifndef LOSSES
#define LOSSES 1        /* events the source never sends */
#endif
#ifndef DUPS
#define DUPS 1          /* events delivered twice */
#endif
#ifndef LATE
#define LATE 1          /* seconds that pass while work is pending (a slow delivery or reconcile) */
#endif
#ifndef RETRIES
#define RETRIES 3       /* the broker's retries per event before it dead-letters it */
#endif
#ifndef SWEEP_EVERY
#define SWEEP_EVERY 3   /* the sweep's period in seconds (0: no sweep) */
#endif
/* TICK_MODE: WAIT_MODE=tick: every answer is 200, and a tick lists the Action when its dueSlot comes.
 * EXCUSE_TICK_LAST: the end check excuses the one Event loss no rule can fix in tick mode: the last
 *   phase's, begun by a sweep or tick (which nobody retries), its finished update event lost.
 * KEEP_ADDS: the source loses update events only (what the backup carrier is for).
 * SEEDED_BUG: the status patch loses its status `test`. */

#define MAXATT 4        /* reconcile.ts MAX_ATTEMPTS */
#define NB 8            /* pending deliveries at most */
#define MAXRV 24        /* object versions at most */
#define NOTHING 255

#define FREE 0
#define EVENT 1         /* a delivery of an event: reconcile(event data) */
#define PING 2          /* a sweep or a tick: reconcile(listed object, fromServer) */

#define DW 1            /* decide on what was read, then write once (or not) */
#define GET 2           /* read the object after a conflict, or before an unproven write */
#define PROVEN 3        /* recordProven: the one Event its proof makes it sure of, then its answer */
#define EV 4            /* recordPhase: the Event of the phase this reconcile began */
#define READBACK 5      /* read the object after a status patch whose answer was lost */

#define NOLAND 7        /* READBACK's arg when the lost patch did not land (or was no advance) */

#define OK 0            /* 200 */
#define ERR 15          /* no answer, or a 500: redelivered after a short backoff */

/* One version of the object: metadata, spec and status, as an event carries it. */
typedef Ver {
	byte inc;       /* the incarnation: its uid */
	byte gen;       /* metadata.generation */
	byte delay;     /* spec.delay */
	bit paused;     /* spec.paused */
	byte nts;       /* status.timestamps.length */
	byte og;        /* status.observedGeneration */
	byte due;       /* status.dueSlot, as seconds after the last start (NOTHING: none) */
}

/* One reconcile in flight. */
typedef Slot {
	byte job;       /* FREE, EVENT or PING */
	byte ev;        /* the version it started from: the event's data, or the listed object */
	byte rd;        /* the version it decides on now; 0: read as gone */
	bit srv;        /* fromServer: rd is the server's own (listed or read) */
	bit got;        /* it has read with GET after a conflict or an unproven write (`read`) */
	byte att;       /* attempt, 1..MAXATT */
	byte pc;        /* its next step */
	byte arg;       /* EV, READBACK, PROVEN: the Event to record, as inc * N + position (READBACK:
	                 * NOLAND, none) */
	byte ans;       /* PROVEN, EV, READBACK: the answer after it (OK, or a 503's Retry-After in seconds) */
	byte tries;     /* EVENT: the broker's retries so far */
}

Ver h[MAXRV];           /* every version so far, by resourceVersion (0: none) */
byte nv;                /* the newest version */
byte cur;               /* the version the server holds; 0: deleted */
byte age[2 * N];        /* seconds since each phase of each incarnation began, clamped at C */
byte cage[2];           /* seconds since each incarnation was created, clamped at C */
byte begun[2];          /* phases begun, per incarnation */
byte evs;               /* PhaseStarted Events that exist: bit inc * N + position */
short bag[NB];          /* pending deliveries: rv * 32 + wait * 4 + tries, sorted, 0 free */
Slot s[2];              /* in flight: s[0] busy whenever s[1] is */
byte crashes = CRASHES, losses = LOSSES, dups = DUPS, late = LATE;
byte swAge;             /* seconds since the last sweep */
bit swept;              /* a sweep ran in this second */
byte tickedRv;          /* TICK_MODE: the version a tick last listed */
byte ustep;             /* the user's edits so far: a bit each */
#ifdef EXCUSE_TICK_LAST
bit pingBeganLast;      /* a sweep or tick began the last phase */
bit finishedLost;       /* the source lost the event of a finished version */
#define EXCUSED      (pingBeganLast && finishedLost && \
                      ((evs >> (LATEST * N)) & ((1 << (N - 1)) - 1)) == (1 << (N - 1)) - 1)
#else
#define EXCUSED      false
#endif

/* scratch, always set before use within one atomic step: not part of the state */
hidden byte w_i, w_j, w_k, w_r, w_t, w_a, w_n, w_ev, w_w, w_tr, w_b;
hidden short w_d, w_x, w_s;

#define BUSY(n)      (s[n].job != FREE)
#define LASTAGE(v)   (h[v].nts == 0 -> cage[h[v].inc] : age[h[v].inc * N + h[v].nts - 1])
#define PINGING      (s[0].job == PING || s[1].job == PING)
#define MAX1(d)      (d > 1 -> d : 1)
#define BAG_RV(e)    (e / 32)
#define BAG_WAIT(e)  ((e / 4) % 8)
#define BAG_TRIES(e) (e % 4)
#define KIND_OF(d)   (d / 256)
#define ANSWER(d)    ((d / 16) % 16)
#define LATENESS(d)  (d % 16)
#define SETTLED      (cur == 0 || h[cur].paused || (h[cur].nts >= N && TTL == NOTTL))
#define LATEST       h[nv].inc
#define EVENTS_OK    (((evs >> (LATEST * N)) & ((1 << begun[LATEST]) - 1)) == (1 << begun[LATEST]) - 1)
/* The sweep lists what is not Succeeded (finished, no TTL). */
#define LISTED       (cur != 0 && !(h[cur].nts >= N && TTL == NOTTL))

/* status.dueSlot as desiredStatus writes it for `m` phases begun under version v's spec */
#define DUE(v, m)    (m == 0 -> NOTHING : (m >= N -> (TTL == NOTTL -> NOTHING : TTL) : \
                     (h[v].paused -> NOTHING : h[v].delay)))

/* The patch's `test` operations on version w_r's uid, generation, spec and status. SEEDED_BUG
 * drops the status test. */
#define SPEC_TESTS   (h[cur].inc == h[w_r].inc && h[cur].gen == h[w_r].gen && h[cur].delay == h[w_r].delay && \
                      h[cur].paused == h[w_r].paused)
#ifdef SEEDED_BUG
#define TESTS_PASS   SPEC_TESTS
#else
#define TESTS_PASS   (SPEC_TESTS && h[cur].nts == h[w_r].nts && h[cur].og == h[w_r].og && h[cur].due == h[w_r].due)
#endif

/* recordProven (events.ts, 3747c79), for a reconcile that read the object (GET) and began
 * nothing: the latest phase begun that the object it read last (s[n].rd) shows, if it is of the
 * snapshot's uid and at the snapshot's position sp or later (sp - 1 or later for an event whose
 * data shows the run finished). The other case, a reconcile that began phase p, is the EV step. */
#define FINISHED(n)  (h[s[n].ev].nts >= N -> 1 : 0)
#define READ_PROVES(n) (s[n].got && s[n].rd != 0 && h[s[n].rd].inc == h[s[n].ev].inc && h[s[n].rd].nts > 0 && \
                        h[s[n].rd].nts + FINISHED(n) > h[s[n].ev].nts)

inline sortBag() {
	for (w_i : 1 .. NB - 1) {
		w_j = w_i;
		do
		:: w_j > 0 && bag[w_j - 1] < bag[w_j] -> w_s = bag[w_j]; bag[w_j] = bag[w_j - 1]; bag[w_j - 1] = w_s; w_j--
		:: else -> break
		od
	}
}

inline swap() {
	w_t = s[0].job; s[0].job = s[1].job; s[1].job = w_t;
	w_t = s[0].ev; s[0].ev = s[1].ev; s[1].ev = w_t;
	w_t = s[0].rd; s[0].rd = s[1].rd; s[1].rd = w_t;
	w_t = s[0].srv; s[0].srv = s[1].srv; s[1].srv = w_t;
	w_t = s[0].got; s[0].got = s[1].got; s[1].got = w_t;
	w_t = s[0].att; s[0].att = s[1].att; s[1].att = w_t;
	w_t = s[0].pc; s[0].pc = s[1].pc; s[1].pc = w_t;
	w_t = s[0].arg; s[0].arg = s[1].arg; s[1].arg = w_t;
	w_t = s[0].ans; s[0].ans = s[1].ans; s[1].ans = w_t;
	w_t = s[0].tries; s[0].tries = s[1].tries; s[1].tries = w_t
}

/* A slot as one number, to order the slots: swapped replicas are then one state. */
#define SLOT_KEY(n)  ((((((s[n].ev * 32 + s[n].rd) * 8 + s[n].pc) * 4 + s[n].job) * 8 + s[n].att) * 4 + s[n].tries) * 4 + \
                      s[n].srv * 2 + s[n].got)
#define SLOT_KEY2(n) (s[n].arg * 16 + s[n].ans)

inline sortSlots() {
	if
	:: !BUSY(0) && BUSY(1) -> printf("@swap\n"); swap()
	:: BUSY(0) && BUSY(1) && (SLOT_KEY(0) < SLOT_KEY(1) || (SLOT_KEY(0) == SLOT_KEY(1) && SLOT_KEY2(0) < SLOT_KEY2(1))) ->
		printf("@swap\n"); swap()
	:: else -> skip
	fi
}

inline clearSlot(n) {
	s[n].job = FREE; s[n].ev = 0; s[n].rd = 0; s[n].srv = 0; s[n].got = 0; s[n].att = 0; s[n].pc = 0;
	s[n].arg = 0; s[n].ans = 0; s[n].tries = 0
}

/* A pending delivery of version v, `w` seconds from now, after `tr` retries. */
inline enqueue(v, w, tr) {
	w_k = 0;
	do
	:: w_k < NB && bag[w_k] != 0 -> w_k++
	:: else -> break
	od;
	assert(w_k < NB); /* raise NB */
	bag[w_k] = v * 32 + w * 4 + tr;
	sortBag()
}

/* The source sends the new version's event, or (budget) loses it. */
inline emit(v) {
	if
	:: losses > 0 -> losses--; printf("@lose %d\n", v);
#ifdef EXCUSE_TICK_LAST
		finishedLost = finishedLost | (h[v].nts >= N -> 1 : 0)
#endif
	:: true -> printf("@emit %d\n", v); enqueue(v, 0, 0)
	fi
}

/* An add event: lost like any other, unless KEEP_ADDS (only update events are lost). */
inline emitAdd(v) {
#ifdef KEEP_ADDS
	printf("@emit %d\n", v); enqueue(v, 0, 0)
#else
	emit(v)
#endif
}

/* A new version copying the current one; the caller changes what the write changes. */
inline newVersion() {
	assert(nv + 1 < MAXRV); /* raise MAXRV */
	nv++;
	h[nv].inc = h[cur].inc; h[nv].gen = h[cur].gen; h[nv].delay = h[cur].delay;
	h[nv].paused = h[cur].paused; h[nv].nts = h[cur].nts; h[nv].og = h[cur].og; h[nv].due = h[cur].due
}

/* The broker's answer to a delivery (or, budget allowing, its loss: as no answer), or a ping's end. */
inline finish(n, a) {
	w_a = a;
#ifdef TICK_MODE
	w_a = (w_a == ERR -> ERR : OK); /* WAIT_MODE=tick: a wait is a 200, the tick carries it */
#endif
	if
	:: s[n].job == EVENT && w_a != ERR && crashes > 0 -> crashes--; printf("@lostanswer %d\n", n); w_a = ERR
	:: true -> skip
	fi;
	printf("@answer %d %d\n", n, w_a);
	if
	:: s[n].job == EVENT && w_a != OK ->
		if
		:: s[n].tries < RETRIES ->
			w_ev = s[n].ev; w_w = (w_a == ERR -> 0 : w_a); w_tr = s[n].tries + 1; enqueue(w_ev, w_w, w_tr)
		:: else -> printf("@deadletter %d\n", s[n].ev)
		fi
	:: else -> skip
	fi;
	clearSlot(n)
}

/* reconcile returns answer a without a phase of its own (and without a delete): after a read, it
 * records the latest phase's Event first, if its read proves one (READ_PROVES). */
inline conclude(n, a) {
	if
	:: READ_PROVES(n) -> s[n].arg = h[s[n].rd].inc * N + h[s[n].rd].nts - 1; s[n].ans = a; s[n].pc = PROVEN
	:: else -> finish(n, a)
	fi
}

/* Creating the PhaseStarted Event `e` (inc * N + position): at most one exists (409). */
inline record(n, e) {
	printf("@event %d %d %d\n", n, e / N, e % N);
	assert(e % N < begun[e / N]); /* an Event only for a phase that began */
	evs = evs | (1 << e)
}

/* The status patch of slot n's decision w_d on version w_r: its tests, then the write. */
inline patch(n) {
	if
	:: crashes > 0 -> crashes--; /* its answer is lost: it landed, or not */
		if
		:: cur != 0 && TESTS_PASS -> printf("@write %d %d lost 1\n", n, KIND_OF(w_d)); apply(n);
			s[n].arg = (KIND_OF(w_d) == ADVANCE -> s[n].arg : NOLAND)
		:: true -> printf("@write %d %d lost 0\n", n, KIND_OF(w_d)); s[n].arg = NOLAND
		fi;
		s[n].ans = ANSWER(w_d); s[n].pc = READBACK
	:: true ->
		if
		:: cur == 0 -> printf("@write %d %d gone\n", n, KIND_OF(w_d)); finish(n, OK)
		:: cur != 0 && TESTS_PASS -> printf("@write %d %d ok\n", n, KIND_OF(w_d)); apply(n);
			if
			:: KIND_OF(w_d) == ADVANCE -> s[n].ans = ANSWER(w_d); s[n].pc = EV
			:: else -> conclude(n, OK)
			fi
		:: else -> printf("@write %d %d conflict\n", n, KIND_OF(w_d)); s[n].pc = GET
		fi
	fi
}

/* The patch lands: the server's new version (s[n].arg: the Event of the phase it began). */
inline apply(n) {
		if
		:: KIND_OF(w_d) == ADVANCE ->
			/* the entry the decision appends (phases[h[w_r].nts]) lands at the server's end */
			assert(h[cur].nts == h[w_r].nts); /* no phase begun twice, none skipped */
			/* stamped now: after the previous start, and at least its delay later */
			assert(h[cur].nts == 0 || age[h[cur].inc * N + h[cur].nts - 1] >= h[cur].delay);
			w_t = h[w_r].nts;
			newVersion();
			h[nv].nts = h[cur].nts + 1; h[nv].og = h[w_r].gen; h[nv].due = DUE(w_r, h[nv].nts);
			age[h[nv].inc * N + h[nv].nts - 1] = 0;
			begun[h[nv].inc] = h[nv].nts;
#ifdef EXCUSE_TICK_LAST
			pingBeganLast = pingBeganLast | (h[nv].nts >= N && s[n].job == PING -> 1 : 0);
#endif
			cur = nv;
			s[n].arg = h[nv].inc * N + w_t
		:: else -> /* REFRESH: the status the spec asks for, the timestamps unchanged */
			newVersion();
			h[nv].og = h[w_r].gen; h[nv].due = DUE(w_r, h[nv].nts);
			cur = nv
		fi;
		emit(cur)
}

/* reconcile's loop body: decide on s[n].rd, then write at most once. */
inline decideWrite(n) {
	w_r = s[n].rd;
	if
	:: w_r == 0 -> printf("@decide %d %d 0 0\n", n, DONE); finish(n, OK) /* current null: returned at once */
	:: w_r != 0 && h[w_r].inc != h[s[n].ev].inc -> printf("@decide %d %d 0 0\n", n, DONE); conclude(n, OK)
	:: else ->
		w_d = DT(h[s[n].ev].nts, h[w_r].nts, LASTAGE(w_r), h[w_r].delay, h[w_r].paused, h[w_r].og != h[w_r].gen);
		printf("@decide %d %d %d %d\n", n, KIND_OF(w_d), ANSWER(w_d), LATENESS(w_d));
		if
		:: KIND_OF(w_d) == ADVANCE && !s[n].srv && LATENESS(w_d) >= MAX1(h[w_r].delay) ->
			/* hadItsTurn: a late carrier's data is out of date, read first */
			printf("@unproven %d\n", n); s[n].pc = GET
		:: KIND_OF(w_d) == ADVANCE && (s[n].srv || LATENESS(w_d) < MAX1(h[w_r].delay)) -> patch(n)
		:: KIND_OF(w_d) == REFRESH -> patch(n)
		:: (KIND_OF(w_d) == WAIT || KIND_OF(w_d) == DONE) && !s[n].srv && h[w_r].nts >= N ->
			/* an event showing the run finished reads first, to record the last phase's Event */
			printf("@unproven %d\n", n); s[n].pc = GET
		:: (KIND_OF(w_d) == WAIT || KIND_OF(w_d) == DONE) && (s[n].srv || h[w_r].nts < N) -> conclude(n, ANSWER(w_d))
		:: KIND_OF(w_d) == DELETE && !s[n].srv -> printf("@unproven %d\n", n); s[n].pc = GET
		:: KIND_OF(w_d) == DELETE && s[n].srv ->
			if
			:: cur == 0 -> printf("@delete %d gone\n", n); finish(n, OK)
			:: cur == w_r -> printf("@delete %d ok\n", n); cur = 0; finish(n, OK) /* no Event: it is gone */
			:: else -> printf("@delete %d conflict\n", n); s[n].pc = GET
			fi
		fi
	fi
}

inline step(n) {
	printf("@step %d\n", n);
	if
	:: s[n].pc == DW -> decideWrite(n)
	:: s[n].pc == GET -> /* a conflict, or an unproven write: read, and decide again (or give up) */
		s[n].rd = cur; s[n].srv = 1; s[n].got = 1; s[n].att++;
		printf("@get %d %d\n", n, cur);
		if
		:: s[n].att > MAXATT -> finish(n, ERR) /* ConflictError */
		:: else -> s[n].pc = DW
		fi
	:: s[n].pc == PROVEN -> /* recordProven's one Event, then the answer */
		record(n, s[n].arg); w_t = s[n].ans; finish(n, w_t)
	:: s[n].pc == EV -> /* its own Event, then (p > 0) the one before, proven by the object it
		             * decided on: read, listed, or the event's data its patch's `test` held */
		record(n, s[n].arg);
		if
		:: s[n].arg % N > 0 -> s[n].arg--; s[n].pc = PROVEN
		:: else -> w_t = s[n].ans; finish(n, w_t)
		fi
	:: s[n].pc == READBACK -> /* counted as written if the object shows this very advance (the read
		                   * is not `read`: what it decided on stays its proof) */
		printf("@get %d %d\n", n, cur);
		if
		:: s[n].arg != NOLAND && cur != 0 && h[cur].inc == s[n].arg / N -> s[n].pc = EV
		:: else -> finish(n, ERR) /* the server's error stands */
		fi
	fi
}

/* The broker hands pending delivery w_b to a free slot (s[1] is free whenever any is). */
inline deliver() {
	w_x = bag[w_b];
	if
	:: dups > 0 -> dups--; printf("@dup %d\n", BAG_RV(w_x))
	:: true -> bag[w_b] = 0; sortBag()
	fi;
	w_n = (BUSY(0) -> 1 : 0);
	s[w_n].job = EVENT; s[w_n].ev = BAG_RV(w_x); s[w_n].rd = BAG_RV(w_x); s[w_n].att = 1;
	s[w_n].pc = DW; s[w_n].tries = BAG_TRIES(w_x);
	printf("@deliver %d %d %d\n", w_n, BAG_RV(w_x), BAG_TRIES(w_x))
}

/* A sweep or a tick: the Action as listed, reconciled from the server. */
inline ping() {
	w_n = (BUSY(0) -> 1 : 0);
	s[w_n].job = PING; s[w_n].ev = cur; s[w_n].rd = cur; s[w_n].srv = 1; s[w_n].att = 1; s[w_n].pc = DW;
	printf(" %d %d\n", w_n, cur)
}

#define DELIVERABLE(b) (bag[b] != 0 && BAG_WAIT(bag[b]) == 0 && !BUSY(1))
#define SWEEP_OWED   (SWEEP_EVERY > 0 && swAge >= SWEEP_EVERY && !swept && !BUSY(1) && !PINGING)
#ifdef TICK_MODE
#define TICK_DUE     (cur != 0 && tickedRv != cur && h[cur].due != NOTHING && LASTAGE(cur) >= h[cur].due)
#else
#define TICK_DUE     false
#endif
#define TICK_OWED    (TICK_DUE && !BUSY(1) && !PINGING)
#define WAITING(b)   (bag[b] == 0 || BAG_WAIT(bag[b]) > 0)
/* Nothing is owed in this second: no delivery due, no reconcile running, no ping owed. */
#define QUIET        (!BUSY(0) && !TICK_DUE && !(SWEEP_EVERY > 0 && swAge >= SWEEP_EVERY) && \
                      WAITING(0) && WAITING(1) && WAITING(2) && WAITING(3) && \
                      WAITING(4) && WAITING(5) && WAITING(6) && WAITING(7))

active proctype world() {
#define DECIDE_ROWS
#include "decide.pml"
	;
	atomic {
		/* kubectl apply: version 1 of incarnation 0, status defaulted, and its add event */
		nv = 1; cur = 1; h[1].inc = 0; h[1].gen = 1; h[1].delay = DELAY0; h[1].nts = 0; h[1].og = 0;
		h[1].due = NOTHING;
		printf("@create 1 0\n");
		emitAdd(1);
		/* the sweep's phase against the Action's start: any */
		if
		:: swAge = 0
		:: SWEEP_EVERY > 1 -> swAge = 1
		:: SWEEP_EVERY > 2 -> swAge = 2
		fi;
		printf("@sweepphase %d\n", swAge)
	}
end:
	do
	:: atomic { QUIET || late > 0 ->
		if
		:: !QUIET -> late--
		:: else -> skip
		fi;
#ifndef NO_EVENTS_END
		/* at the end, a finished run with nothing in flight: every phase has its Event */
		assert(!(QUIET && cur != 0 && h[cur].nts >= N && bag[0] == 0) || EVENTS_OK || EXCUSED);
#endif
		printf("@tick\n");
		for (w_i : 0 .. 2 * N - 1) {
			if
			:: age[w_i] < C && w_i % N < begun[w_i / N] -> age[w_i]++
			:: else -> skip
			fi
		}
		cage[0] = (cage[0] < C -> cage[0] + 1 : C);
		cage[1] = (cage[1] < C && h[nv].inc == 1 -> cage[1] + 1 : cage[1]);
		for (w_i : 0 .. NB - 1) {
			if
			:: bag[w_i] != 0 && BAG_WAIT(bag[w_i]) > 0 -> bag[w_i] = bag[w_i] - 4
			:: else -> skip
			fi
		}
		sortBag();
		swAge = (swAge < SWEEP_EVERY -> swAge + 1 : swAge);
		swept = 0 }
	/* one step of a reconcile: a delivery's first, a sweep's or tick's first, or the next */
	:: atomic { (BUSY(0) || DELIVERABLE(0) || DELIVERABLE(1) || DELIVERABLE(2) || DELIVERABLE(3) ||
	             DELIVERABLE(4) || DELIVERABLE(5) || DELIVERABLE(6) || DELIVERABLE(7) || SWEEP_OWED || TICK_OWED) ->
		if
		:: BUSY(0) -> w_n = 0
		:: BUSY(1) -> w_n = 1
		:: DELIVERABLE(0) -> w_b = 0; deliver()
		:: DELIVERABLE(1) -> w_b = 1; deliver()
		:: DELIVERABLE(2) -> w_b = 2; deliver()
		:: DELIVERABLE(3) -> w_b = 3; deliver()
		:: DELIVERABLE(4) -> w_b = 4; deliver()
		:: DELIVERABLE(5) -> w_b = 5; deliver()
		:: DELIVERABLE(6) -> w_b = 6; deliver()
		:: DELIVERABLE(7) -> w_b = 7; deliver()
		/* the sweep: every SWEEP_EVERY seconds, at any point of that second */
		:: SWEEP_OWED && !LISTED -> swept = 1; swAge = 0; printf("@sweep none\n"); goto stepped
		:: SWEEP_OWED && LISTED -> swept = 1; swAge = 0; printf("@sweep"); ping()
		:: TICK_OWED -> tickedRv = cur; printf("@tick"); ping()
		fi;
		if
		:: crashes > 0 -> crashes--; printf("@crash %d\n", w_n); finish(w_n, ERR)
		:: true -> step(w_n)
		fi;
stepped:
		sortSlots() }
	/* the user */
#if EDIT_DELAY != NOTHING
	:: atomic { !(ustep & 1) && cur != 0 -> ustep = ustep | 1;
		newVersion(); h[nv].gen++; h[nv].delay = EDIT_DELAY; cur = nv;
		printf("@user delay %d %d\n", EDIT_DELAY, nv); emit(nv) }
#endif
#if PAUSE
	:: atomic { !(ustep & 2) && cur != 0 -> ustep = ustep | 2;
		newVersion(); h[nv].gen++; h[nv].paused = 1; cur = nv;
		printf("@user pause 1 %d\n", nv); emit(nv) }
	:: atomic { (ustep & 2) && !(ustep & 4) && cur != 0 -> ustep = ustep | 4;
		newVersion(); h[nv].gen++; h[nv].paused = 0; cur = nv;
		printf("@user pause 0 %d\n", nv); emit(nv) }
#endif
#if RECREATE
	:: atomic { !(ustep & 8) && cur != 0 -> ustep = ustep | 8; cur = 0; printf("@user delete\n") }
	:: atomic { (ustep & 8) && !(ustep & 16) && cur == 0 -> ustep = ustep | 16;
		nv++; h[nv].inc = 1; h[nv].gen = 1; h[nv].delay = DELAY0; h[nv].nts = 0; h[nv].og = 0;
		h[nv].due = NOTHING; cur = nv; cage[1] = 0;
		printf("@create %d 1\n", nv); emitAdd(nv) }
#endif
	od
}

/* Liveness, once the fault budgets are spent: the Action ends finished (and, with a TTL,
 * deleted), paused or deleted; `events`: and every phase of its latest incarnation has its Event. */
ltl finishes { <> [] SETTLED }
ltl events { <> [] (SETTLED && EVENTS_OK) }
