# SPDX-License-Identifier: GPL-2.0
#
# The test VM's watchdog, sourced by init.sh (busybox sh). While the tests
# run it watches for two things and, when one happens, gets the state out
# of the VM before anything ends the run:
#
#  - a task the kernel reports blocked (hung_task_panic=0: the hung-task
#    detector reports, it does not panic; its report still fails the run),
#  - the guest deadline (KCM_DEADLINE, guest uptime in seconds: run.sh sets
#    it to its own timeout less a margin), so that a run that would be
#    killed from outside says first what it was doing.
#
# First it takes a snapshot that raises no interrupt (files in /tmp only,
# so that nothing wakes a CPU before it means to): every CPU's timer state
# (/proc/timer_list) and, for each task the kernel reported blocked, its
# state and count of context switches. If tasks are blocked it then wakes
# every CPU (a task pinned to each) and looks again 5 s later: a task still
# in D state without a context switch is stuck; one that went on was held
# by a lost wake-up (KCM-KICK). Then it writes, to the result channel
# (ttyS1): KCM-STALL with the reason, the tests running and their last
# lines, a KCM-TIMERS line per CPU (is its next timer interrupt overdue?),
# each blocked task's stack and the kick's verdict, /proc/interrupts and
# /proc/timer_list; to the console sysrq-w (blocked tasks), sysrq-l (every
# CPU's backtrace), sysrq-t (all tasks and the workqueues); the timer state
# again; and with KCM_TRACE=1 the ftrace ring of SRCU, timer,
# timer-migration and IPI events, stopped at the stall, to the third serial
# port (trace.log). A run whose tasks stay blocked is ended (KCM-ABORT); one
# that recovered goes on, and fails anyway on the hung-task report.
#
# Settings, from tests.conf: KCM_STALL_SECS (hung-task threshold, default
# 120), KCM_DEADLINE, KCM_TRACE.

kcm_wd_pid=""

# The ring of events a lost timer or a lost IPI would show in.
kcm_trace_setup() {
	t=/sys/kernel/tracing
	mkdir -p $t
	mount -t tracefs tracefs $t 2>/dev/null
	[ -w $t/tracing_on ] || return 1
	echo 0 >$t/tracing_on
	echo 4096 >$t/buffer_size_kb
	srcu='function.function == process_srcu || function.function == srcu_invoke_callbacks'
	tmr='function.function == delayed_work_timer_fn || function.function == srcu_delay_timer'
	for e in workqueue_queue_work workqueue_execute_start; do
		echo "$srcu" >$t/events/workqueue/$e/filter
		echo 1 >$t/events/workqueue/$e/enable
	done
	for e in timer_start timer_expire_entry; do
		echo "$tmr" >$t/events/timer/$e/filter
		echo 1 >$t/events/timer/$e/enable
	done
	[ -d $t/events/timer_migration ] && echo 1 >$t/events/timer_migration/enable
	for e in ipi/ipi_send_cpu ipi/ipi_send_cpumask irq_vectors/reschedule_entry \
		 irq_vectors/call_function_single_entry irq_vectors/call_function_entry \
		 irq_vectors/local_timer_entry; do
		[ -e $t/events/$e/enable ] && echo 1 >$t/events/$e/enable
	done
	echo 1 >$t/tracing_on
}

# The pids the hung-task detector named since the ring was last cleared.
kcm_blocked_pids() {
	dmesg | sed -n 's/.*INFO: task .*:\([0-9][0-9]*\) blocked for more than.*/\1/p' | sort -un
}

kcm_task_stack() { # PID
	tr '\n' ' ' </proc/$1/stack 2>/dev/null
}

# What the hung-task detector itself looks at: the task's state and its
# count of context switches ("PID STATE SWITCHES").
kcm_task_mark() { # PID
	[ -r /proc/$1/status ] || return 1
	echo "$1 $(sed 's/.*) //' /proc/$1/stat | cut -d' ' -f1)" \
		"$(awk '/ctxt_switches/ { s += $2 } END { print s }' /proc/$1/status)"
}

# Still blocked: in D state and not switched since it was marked.
kcm_still_blocked() { # PID
	cur=$(kcm_task_mark "$1") || return 1
	# shellcheck disable=SC2086
	set -- $cur
	[ "$2" = D ] && [ "$cur" = "$(cat "/tmp/kcm-mark.$1" 2>/dev/null)" ]
}

# One line per CPU from /proc/timer_list: in high-resolution mode, when its
# next hrtimer and its clock event are due, relative to now, and how many
# timer interrupts it has taken (a CPU whose next event is overdue by more
# than a second has lost its timer interrupt: nothing on it that waits for
# a timer runs); in low-resolution mode (the boot found no usable local
# APIC timer, and every CPU's tick comes from the HPET by broadcast) only
# that, with the broadcast mask.
kcm_timer_summary() { # FILE
	awk '
	/^now at / { now = $3 }
	/^cpu: / { cpu = $2 }
	/\.expires_next/ { nxt[cpu] = $3 }
	/\.nr_events/ { nev[cpu] = $3 }
	/\.hres_active/ { hres[cpu] = $3 }
	/\.tick_stopped/ { stp[cpu] = $3 }
	/Per CPU device:/ { dev = $4 }
	$1 == "next_event:" && dev != "" { ne[dev] = $2 }
	/^tick_broadcast_mask:/ { bmask = $2 }
	END {
		for (c in nxt) {
			tick = stp[c] + 0 ? "stopped" : "running"
			if (!(hres[c] + 0)) {
				printf "KCM-TIMERS cpu%s: low-resolution mode, periodic tick (broadcast mask %s), tick %s\n",
					c, bmask, tick
				continue
			}
			d = (nxt[c] - now) / 1e6
			e = (c in ne) ? (ne[c] - now) / 1e6 : 0
			printf "KCM-TIMERS cpu%s: next hrtimer in %+.0f ms, clock event in %+.0f ms, %d timer interrupts, tick %s%s\n",
				c, d, e, nev[c], tick,
				(d < -1000 || e < -1000) ? ": OVERDUE, its timer interrupt was lost" : ""
		}
	}' "$1" | sort
}

kcm_dump_timers() { # LABEL FILE
	out "KCM-DUMP interrupts ($1)"
	sed 's/^/#   /' /proc/interrupts >&3
	out "KCM-DUMP timer_list ($1)"
	sed 's/^/#   /' "$2" >&3
}

# In three phases: a snapshot that makes no interrupt (files in /tmp
# only), so that nothing wakes a CPU before the kick; the kick, if tasks
# are blocked; then the report, the sysrq dumps and the ftrace ring.
kcm_stall_dump() { # REASON
	now=$(cut -d. -f1 /proc/uptime)
	[ -w /sys/kernel/tracing/tracing_on ] && echo 0 >/sys/kernel/tracing/tracing_on
	cat /proc/timer_list >/tmp/kcm-timers.0
	pids=$(kcm_blocked_pids)
	for p in $pids; do
		kcm_task_mark "$p" >/tmp/kcm-mark.$p
	done
	kicked=""
	if [ -n "$pids" ]; then
		# Wake every CPU: a task pinned to it must run there.
		c=0
		while [ "$c" -lt "$(nproc)" ]; do
			taskset -c "$c" true
			c=$((c + 1))
		done
		sleep 5
		for p in $pids; do
			if kcm_still_blocked "$p"; then
				kicked="$kicked $p:stuck"
			else
				kicked="$kicked $p:went-on"
			fi
		done
	fi

	out "KCM-STALL at ${now} s: $1"
	echo "kcm-watchdog: stall at ${now} s: $1" >/dev/kmsg
	for f in /tmp/run.*; do
		[ -e "$f" ] || continue
		read -r name start <"$f"
		i=${f#/tmp/run.}
		out "KCM-RUNNING $name, for $((now - start)) s; its last lines:"
		tail -n 25 "/tmp/ks.$i" 2>/dev/null | sed 's/^/#   /' >&3
	done
	kcm_timer_summary /tmp/kcm-timers.0 >&3
	stuck=0
	for pk in $kicked; do
		p=${pk%%:*}
		out "KCM-BLOCKED $p $(cat /proc/$p/comm 2>/dev/null): $(kcm_task_stack "$p")"
		if [ "${pk#*:}" = stuck ]; then
			out "KCM-KICK $p still blocked (D state, no context switch) 5 s after every CPU was woken"
			stuck=1
		else
			out "KCM-KICK $p went on after every CPU was woken"
		fi
	done
	kcm_dump_timers "at the stall" /tmp/kcm-timers.0
	echo w >/proc/sysrq-trigger
	echo l >/proc/sysrq-trigger
	echo t >/proc/sysrq-trigger
	sleep 5
	cat /proc/timer_list >/tmp/kcm-timers.1
	kcm_timer_summary /tmp/kcm-timers.1 >&3
	kcm_dump_timers "after the dumps" /tmp/kcm-timers.1
	if [ -n "${KCM_TRACE:-}" ] && [ -r /sys/kernel/tracing/trace ]; then
		out "KCM-DUMP ftrace ring to trace.log"
		cat /sys/kernel/tracing/trace >/dev/ttyS2
	fi
	# Later reports are new ones: the console keeps these.
	dmesg -c >/dev/null
	[ "$stuck" = 0 ]
}

kcm_watchdog() {
	while sleep 5; do
		if [ -n "$hung" ] && dmesg | grep -q 'blocked for more than'; then
			kcm_stall_dump "the kernel reports a blocked task" ||
				die "tasks stayed blocked (see KCM-STALL above and console.log)"
		fi
		if [ -n "${KCM_DEADLINE:-}" ] &&
		   [ "$(cut -d. -f1 /proc/uptime)" -ge "$KCM_DEADLINE" ]; then
			kcm_stall_dump "the run reached its deadline (${KCM_DEADLINE} s of uptime)"
			die "the run did not finish in time (see KCM-STALL above)"
		fi
	done
}

watchdog_start() {
	# The release kernel (make bench) has no hung-task detector: then
	# only the deadline is watched.
	hung=""
	if [ -w /proc/sys/kernel/hung_task_timeout_secs ]; then
		hung=1
		echo "${KCM_STALL_SECS:-120}" >/proc/sys/kernel/hung_task_timeout_secs
		# Look often: a stall is dumped within seconds of its report.
		echo 5 >/proc/sys/kernel/hung_task_check_interval_secs
		echo 20 >/proc/sys/kernel/hung_task_warnings
	fi
	[ -n "${KCM_TRACE:-}" ] && { kcm_trace_setup || out "KCM-NOTE tracing unavailable"; }
	kcm_watchdog &
	kcm_wd_pid=$!
}

watchdog_stop() {
	[ -n "$kcm_wd_pid" ] && kill "$kcm_wd_pid" 2>/dev/null
	kcm_wd_pid=""
}
