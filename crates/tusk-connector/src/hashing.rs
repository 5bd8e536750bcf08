//! The bounded pool every password hash runs on (issue 16, item 4).
//!
//! A password hash (argon2id, bcrypt) costs tens of milliseconds of CPU.
//! Run on an unbounded set of blocking threads, a storm of wrong
//! passwords takes every core from the endpoints that cost microseconds.
//! Here a fixed number of worker threads take jobs from a bounded queue;
//! a job that finds the queue full is refused at once ([`Error::Busy`]),
//! which the login form answers with 429 and `Retry-After`. The refusal is
//! global back-pressure: it depends on nothing the caller sends, so it
//! cannot be aimed at one account.
//!
//! Workers run at a lower scheduling priority ([`WORKER_NICE`] on Linux):
//! a busy server gives its other requests the CPU first, so a login waits
//! rather than the whole server. A priority alone does not bound the
//! pool, though: the scheduler hands a low-priority thread every moment
//! the server's threads wait for the network, and a cache-hungry argon2
//! hash slows what runs beside it. So when the workers would otherwise
//! cover every core the process may use (one core: one worker), each is
//! also duty-limited ([`HashPoolSize::duty`]): after a hash it rests in
//! proportion to the CPU time the hash took, so the pool takes at most
//! [`MAX_SHARE`] of those cores, whatever the load.
//!
//! The provider hands its pool to the connectors through [`HashPool::scope`]
//! around each password check; a check outside any scope (a connector used
//! on its own, as in tests) runs on one process-wide pool of the default
//! size, so no hash ever runs outside a bounded pool.

use crate::error::Error;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use tokio::sync::oneshot;

/// The nice value of the worker threads (0 is normal, 19 the lowest):
/// under contention, Linux's scheduler gives a nice-10 thread about a
/// tenth of what a normal one gets.
pub const WORKER_NICE: i32 = 10;

/// Queue slots per worker when the size is not configured: room for a
/// burst of real logins (at about 25 ms a hash, under half a second of
/// waiting per worker), while a storm beyond it is refused.
pub const QUEUE_PER_WORKER: usize = 16;

/// The most of the cores the pool may take when its workers would cover
/// them all: enough for several logins a second on one core (at about
/// 25 ms a hash, six), and the other endpoints keep the rest.
pub const MAX_SHARE: f64 = 0.15;

/// The configured size of a [`HashPool`]; `None` takes the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HashPoolSize {
    /// Worker threads; default `max(1, cores - 1)`, which leaves the other
    /// endpoints a core.
    pub workers: Option<usize>,
    /// Jobs waiting for a worker; default [`QUEUE_PER_WORKER`] per worker.
    pub queue: Option<usize>,
}

impl HashPoolSize {
    /// `(workers, queue)` on a machine with `cores` usable cores. Pure, so
    /// the defaults are tested without the machine. A configured 0 is
    /// taken as 1 worker and as no queue (every job beyond the busy
    /// workers is refused).
    pub fn resolve(self, cores: usize) -> (usize, usize) {
        let workers = self
            .workers
            .unwrap_or_else(|| cores.saturating_sub(1))
            .max(1);
        let queue = self
            .queue
            .unwrap_or_else(|| workers.saturating_mul(QUEUE_PER_WORKER));
        (workers, queue)
    }

    /// The fraction of its time each of `workers` may spend hashing on a
    /// machine with `cores` usable cores: all of it while the workers leave
    /// a core to the rest, else the share that keeps the pool within
    /// [`MAX_SHARE`] of the cores. Pure, like [`Self::resolve`].
    pub fn duty(workers: usize, cores: usize) -> f64 {
        if workers < cores {
            return 1.0;
        }
        // Counts far below 2^52: exact as f64.
        #[allow(clippy::cast_precision_loss)]
        let share = MAX_SHARE * cores.max(1) as f64 / workers.max(1) as f64;
        share.min(1.0)
    }
}

/// How long a worker whose `duty` is below one rests after a hash that
/// took `used` of CPU: busy `used` out of every `used + rest` keeps it at
/// `duty` of its time.
fn rest_after(used: std::time::Duration, duty: f64) -> std::time::Duration {
    // Outside (0, 1), NaN included, there is nothing to rest for.
    if duty <= 0.0 || !(0.0..1.0).contains(&duty) {
        return std::time::Duration::ZERO;
    }
    used.mul_f64((1.0 - duty) / duty)
}

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A fixed set of worker threads with a bounded queue. Cloning shares the
/// pool; the threads end when the last clone is dropped and the queue is
/// drained.
#[derive(Clone)]
pub struct HashPool {
    shared: Arc<Shared>,
}

struct Shared {
    jobs: Sender<Job>,
    /// Jobs accepted and not yet finished (running or waiting); never
    /// above `workers + queue`. Counted here rather than by a bounded
    /// channel, so the bound does not depend on whether a worker is
    /// already waiting for its next job.
    in_flight: Arc<AtomicUsize>,
    workers: usize,
    queue: usize,
    duty: f64,
}

impl std::fmt::Debug for HashPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashPool")
            .field("workers", &self.shared.workers)
            .field("queue", &self.shared.queue)
            .field("duty", &self.shared.duty)
            .finish()
    }
}

tokio::task_local! {
    static CURRENT: HashPool;
}

impl HashPool {
    /// Starts the workers, sized by `size` for the cores this process may
    /// run on (its CPU affinity included).
    pub fn new(size: HashPoolSize) -> Result<HashPool, Error> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let (workers, queue) = size.resolve(cores);
        let duty = HashPoolSize::duty(workers, cores);
        let (jobs, receiver) = channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..workers {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("tusk-hash-{n}"))
                .spawn(move || work(&receiver, duty))
                .map_err(|e| {
                    Error::Internal(format!(
                        "cannot start password-hashing worker {n} of {workers}: {e}; the process may be at its thread limit (ulimit -u)"
                    ))
                })?;
        }
        Ok(HashPool {
            shared: Arc::new(Shared {
                jobs,
                in_flight: Arc::new(AtomicUsize::new(0)),
                workers,
                queue,
                duty,
            }),
        })
    }

    /// The process-wide pool of the default size, for checks made outside
    /// any [`HashPool::scope`].
    pub fn shared() -> Result<HashPool, Error> {
        static SHARED: OnceLock<Result<HashPool, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| HashPool::new(HashPoolSize::default()).map_err(|e| e.to_string()))
            .clone()
            .map_err(Error::Internal)
    }

    /// The pool of the enclosing [`HashPool::scope`], else [`HashPool::shared`].
    pub fn current() -> Result<HashPool, Error> {
        CURRENT
            .try_with(HashPool::clone)
            .or_else(|_| HashPool::shared())
    }

    /// Runs `future` with this pool as [`HashPool::current`].
    pub fn scope<F: Future>(&self, future: F) -> impl Future<Output = F::Output> {
        CURRENT.scope(self.clone(), future)
    }

    pub fn workers(&self) -> usize {
        self.shared.workers
    }

    pub fn queue(&self) -> usize {
        self.shared.queue
    }

    /// The fraction of its time each worker may spend hashing
    /// ([`HashPoolSize::duty`]).
    pub fn duty(&self) -> f64 {
        self.shared.duty
    }

    /// Whether a [`HashPool::submit`] now would be refused. A hint for
    /// refusing cheaply before other work; `submit` decides.
    pub fn is_full(&self) -> bool {
        let shared = &self.shared;
        shared.in_flight.load(Ordering::Acquire) >= shared.workers.saturating_add(shared.queue)
    }

    /// Queues `job`, or refuses it at once with [`Error::Busy`] when
    /// `workers + queue` jobs are already accepted and unfinished. The result arrives through the returned [`Pending`]
    /// as soon as the job finishes, whatever other jobs do. A job whose
    /// [`Pending`] was dropped before a worker took it is skipped, so
    /// requests whose clients left cost no hashing.
    pub fn submit<T, F>(&self, job: F) -> Result<Pending<T>, Error>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let shared = &self.shared;
        let limit = shared.workers.saturating_add(shared.queue);
        let admitted = shared
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            });
        if admitted.is_err() {
            return Err(Error::Busy {
                workers: shared.workers,
                queue: shared.queue,
            });
        }
        let (tx, rx) = oneshot::channel();
        let in_flight = shared.in_flight.clone();
        let wrapped: Job = Box::new(move || {
            let outcome = if tx.is_closed() {
                None
            } else {
                // A panicking job must not take its worker with it.
                Some(catch_unwind(AssertUnwindSafe(job)).map_err(|_| ()))
            };
            // Room is given back before the result, so a caller that
            // submits again as soon as it has its answer finds it.
            in_flight.fetch_sub(1, Ordering::AcqRel);
            if let Some(outcome) = outcome {
                // The caller may have gone away meanwhile; nothing to tell.
                let _ = tx.send(outcome);
            }
        });
        match shared.jobs.send(wrapped) {
            Ok(()) => Ok(Pending { rx }),
            Err(_) => {
                shared.in_flight.fetch_sub(1, Ordering::AcqRel);
                Err(Error::Internal(
                    "the password-hashing workers have stopped; restart tusk".into(),
                ))
            }
        }
    }

    /// [`HashPool::submit`], then waits for the result.
    pub async fn run<T, F>(&self, job: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.submit(job)?.await
    }
}

/// The result of a job accepted by [`HashPool::submit`]. Dropping it
/// abandons the result (and the job, if it has not started).
#[derive(Debug)]
pub struct Pending<T> {
    rx: oneshot::Receiver<Result<T, ()>>,
}

impl<T> Future for Pending<T> {
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx).poll(cx).map(|got| match got {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(())) => Err(Error::Internal(
                "a password check panicked on the hashing pool (a bug; the worker survived)".into(),
            )),
            Err(_) => Err(Error::Internal(
                "the password-hashing pool dropped a job without running it".into(),
            )),
        })
    }
}

/// A worker: lowers its own priority, then runs jobs until every sender
/// is gone, resting after each as its `duty` asks. The rest comes after
/// the job has sent its result, so it delays the next hash, never an
/// answer.
fn work(receiver: &Mutex<Receiver<Job>>, duty: f64) {
    lower_priority();
    loop {
        let next = match receiver.lock() {
            Ok(guard) => guard.recv(),
            // Jobs run outside the lock, so nothing can poison it; if
            // something did, the receiver inside is still sound.
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        match next {
            Ok(job) => {
                let start = thread_cpu();
                job();
                let rest = rest_after(thread_cpu().saturating_sub(start), duty);
                if !rest.is_zero() {
                    std::thread::sleep(rest);
                }
            }
            Err(_) => return,
        }
    }
}

/// CPU time this thread has used: what a hash cost, not counting the
/// time the scheduler gave others meanwhile.
#[cfg(target_os = "linux")]
fn thread_cpu() -> std::time::Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    let secs = u64::try_from(t.tv_sec).unwrap_or(0);
    let nanos = u32::try_from(t.tv_nsec).unwrap_or(0);
    std::time::Duration::new(secs, nanos)
}

/// Elsewhere wall time since the first call stands in: it counts time
/// the thread was preempted, so the rest errs long.
#[cfg(not(target_os = "linux"))]
fn thread_cpu() -> std::time::Duration {
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // On Linux the nice value belongs to the thread, and `None` is the
    // calling thread, so only this worker is lowered. A process already
    // started below it (`nice -n 19 tusk serve`) is left where it is.
    let inherited = rustix::process::getpriority_process(None).unwrap_or(0);
    if inherited >= WORKER_NICE {
        return;
    }
    if let Err(e) = rustix::process::setpriority_process(None, WORKER_NICE) {
        tracing::warn!(error = %e, "cannot lower the priority of a password-hashing worker; under load, logins compete with other requests as equals");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::mpsc;

    /// A gate jobs wait at until the test opens it.
    #[derive(Clone, Default)]
    struct Gate(Arc<(Mutex<bool>, std::sync::Condvar)>);

    impl Gate {
        fn wait(&self) {
            let (open, cv) = &*self.0;
            let mut g = open.lock().unwrap();
            while !*g {
                g = cv.wait(g).unwrap();
            }
        }
        fn open(&self) {
            let (open, cv) = &*self.0;
            *open.lock().unwrap() = true;
            cv.notify_all();
        }
    }

    fn pool(workers: usize, queue: usize) -> HashPool {
        HashPool::new(HashPoolSize {
            workers: Some(workers),
            queue: Some(queue),
        })
        .unwrap()
    }

    #[test]
    fn sizes_leave_a_core_and_queue_a_few_per_worker() {
        let check = |size: HashPoolSize, cores: usize, want: (usize, usize)| {
            assert_eq!(size.resolve(cores), want, "{size:?} on {cores} cores");
        };
        let auto = HashPoolSize::default();
        check(auto, 1, (1, 16));
        check(auto, 2, (1, 16));
        check(auto, 8, (7, 112));
        check(auto, 0, (1, 16));
        let set = |workers, queue| HashPoolSize { workers, queue };
        check(set(Some(3), None), 2, (3, 48));
        check(set(None, Some(1)), 4, (3, 1));
        check(set(Some(0), Some(0)), 4, (1, 0));
        check(set(Some(usize::MAX), None), 4, (usize::MAX, usize::MAX));
    }

    #[test]
    fn workers_that_cover_every_core_are_duty_limited() {
        let check = |workers: usize, cores: usize, want: f64| {
            let got = HashPoolSize::duty(workers, cores);
            assert!(
                (got - want).abs() < 1e-9,
                "{workers} worker(s) on {cores} core(s): {got}, want {want}"
            );
        };
        // A core left to the rest: no limit.
        check(1, 2, 1.0);
        check(7, 8, 1.0);
        // One core, one worker: the pool takes at most MAX_SHARE of it.
        check(1, 1, MAX_SHARE);
        check(1, 0, MAX_SHARE);
        // Configured to cover the cores: MAX_SHARE of them, shared out.
        check(2, 2, MAX_SHARE);
        check(3, 1, MAX_SHARE / 3.0);
        check(8, 4, MAX_SHARE / 2.0);
        let ms = std::time::Duration::from_millis;
        let rest = |used, duty| rest_after(ms(used), duty);
        assert_eq!(rest(30, 1.0), ms(0));
        assert_eq!(rest(30, 0.25), ms(90));
        assert_eq!(rest(0, 0.15), ms(0));
        // 15% busy: 20 ms of hashing, then 113.3 ms of rest.
        assert_eq!(rest(20, 0.15).as_micros(), 113_333);
        // A nonsensical duty never stalls a worker.
        assert_eq!(rest(30, 0.0), ms(0));
        assert_eq!(rest(30, f64::NAN), ms(0));
    }

    #[tokio::test]
    async fn concurrency_is_bounded_and_a_full_queue_refuses_at_once() {
        let (workers, queue) = (2, 3);
        let p = pool(workers, queue);
        let gate = Gate::default();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (started_tx, started) = mpsc::channel();
        let job = |n: usize| {
            let (gate, running, most, started_tx) = (
                gate.clone(),
                running.clone(),
                most.clone(),
                started_tx.clone(),
            );
            move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                started_tx.send(n).unwrap();
                gate.wait();
                running.fetch_sub(1, Ordering::SeqCst);
                n
            }
        };
        let mut pending = Vec::new();
        for n in 0..workers {
            pending.push(p.submit(job(n)).unwrap());
        }
        // Both workers hold a job, so the queue is empty again.
        for _ in 0..workers {
            started.recv().unwrap();
        }
        for n in workers..workers + queue {
            pending.push(p.submit(job(n)).unwrap());
        }
        // Refused without waiting, whatever the job.
        assert!(p.is_full());
        for _ in 0..3 {
            match p.submit(|| 0) {
                Err(Error::Busy {
                    workers: 2,
                    queue: 3,
                }) => {}
                other => panic!("expected Busy, got {:?}", other.map(|_| ())),
            }
        }
        gate.open();
        let mut got = Vec::new();
        for r in pending {
            got.push(r.await.unwrap());
        }
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
        assert_eq!(
            most.load(Ordering::SeqCst),
            workers,
            "at most {workers} at once"
        );
        // Room again once the backlog is gone.
        assert!(!p.is_full());
        assert_eq!(p.run(|| 7).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_the_worker_survives() {
        let p = pool(1, 1);
        let err = p.run(|| -> u8 { panic!("boom") }).await.unwrap_err();
        assert!(
            matches!(err, Error::Internal(ref m) if m.contains("panicked")),
            "{err}"
        );
        assert_eq!(p.run(|| 5).await.unwrap(), 5);
    }

    #[tokio::test]
    async fn a_caller_that_goes_away_costs_no_hash_and_breaks_nothing() {
        let p = pool(1, 2);
        let gate = Gate::default();
        let (started_tx, started) = mpsc::channel();
        let blocker = {
            let gate = gate.clone();
            p.submit(move || {
                started_tx.send(()).unwrap();
                gate.wait();
            })
            .unwrap()
        };
        started.recv().unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let abandoned = {
            let ran = ran.clone();
            p.submit(move || ran.store(true, Ordering::SeqCst)).unwrap()
        };
        drop(abandoned);
        // The blocker's caller leaves while its job runs: its result has
        // nowhere to go, and the worker carries on.
        drop(blocker);
        gate.open();
        assert_eq!(p.run(|| 9).await.unwrap(), 9);
        assert!(!ran.load(Ordering::SeqCst), "an abandoned job was hashed");
    }

    #[tokio::test]
    async fn results_arrive_in_order_of_completion() {
        let p = pool(2, 2);
        let (slow_gate, fast_gate) = (Gate::default(), Gate::default());
        let slow = {
            let g = slow_gate.clone();
            p.submit(move || {
                g.wait();
                "slow"
            })
            .unwrap()
        };
        let fast = {
            let g = fast_gate.clone();
            p.submit(move || {
                g.wait();
                "fast"
            })
            .unwrap()
        };
        fast_gate.open();
        // The later job's result is there while the earlier one still runs.
        assert_eq!(fast.await.unwrap(), "fast");
        slow_gate.open();
        assert_eq!(slow.await.unwrap(), "slow");
    }

    #[tokio::test]
    async fn scope_chooses_the_pool_and_outside_it_the_shared_one_serves() {
        let p = pool(1, 0);
        let inside = p
            .scope(async { HashPool::current().unwrap().queue() })
            .await;
        assert_eq!(inside, 0);
        let outside = HashPool::current().unwrap();
        assert!(Arc::ptr_eq(
            &outside.shared,
            &HashPool::shared().unwrap().shared
        ));
        assert_eq!(outside.run(|| 1).await.unwrap(), 1);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn workers_run_below_normal_priority_and_leave_the_caller_alone() {
        let before = rustix::process::getpriority_process(None).unwrap();
        let p = pool(1, 1);
        let nice = p
            .run(|| rustix::process::getpriority_process(None).unwrap())
            .await
            .unwrap();
        assert_eq!(nice, WORKER_NICE.max(before));
        assert_eq!(rustix::process::getpriority_process(None).unwrap(), before);
    }
}
