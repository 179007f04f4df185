//! One replication: the event loop. Journeys are requests in an arena (indices, a free list)
//! that step through their program of ops; stations queue and serve them; the calendar orders
//! everything. The loop allocates nothing per event.

use crate::arrivals::ArrivalProcess;
use crate::calendar::{Calendar, Nanos};
use crate::metrics::{window_width, JourneyMetrics};
use crate::model::{Model, Op};
use crate::station::{Start, Station};
use models::RandomStream;

/// What happens next.
#[derive(Clone, Copy, Debug)]
enum Event {
    /// A new journey arrives from outside.
    Arrival,
    /// A server of `station`'s `replica` finishes `request`.
    Departure { station: u32, replica: u32, request: u32 },
    /// A timeline window closes.
    Tick,
}

/// A journey in flight.
#[derive(Clone, Copy, Debug, Default)]
struct Request {
    journey: u32,
    /// Index into the model's ops of the step being executed.
    pc: u32,
    started: Nanos,
    /// When the request joined its current queue.
    enqueued: Nanos,
}

/// Everything one replication measured.
pub struct ReplicationResult {
    pub journeys: Vec<JourneyMetrics>,
    pub stations: Vec<Station>,
    /// Per station, one sample per window: (queue length at the tick, utilisation in window).
    pub station_windows: Vec<Vec<(f64, f64)>>,
    pub window_ns: Nanos,
    pub events: u64,
}

struct Replication<'m> {
    model: &'m Model,
    calendar: Calendar<Event>,
    requests: Vec<Request>,
    free: Vec<u32>,
    stations: Vec<Station>,
    journeys: Vec<JourneyMetrics>,
    arrivals: ArrivalProcess,
    mix_rng: RandomStream,
    window_ns: Nanos,
    window_area: Vec<f64>,
    station_windows: Vec<Vec<(f64, f64)>>,
}

/// Runs replication `rep` of `model` with the scenario seed `seed`.
pub fn run_replication(model: &Model, seed: u64, rep: u32) -> ReplicationResult {
    let stations = model
        .stations
        .iter()
        .map(|s| {
            Station::new(
                s.replicas,
                s.concurrency,
                s.balancing,
                s.service_time.clone(),
                RandomStream::derive(seed, rep, &format!("service/{}", s.name)),
                RandomStream::derive(seed, rep, &format!("route/{}", s.name)),
                model.warmup,
            )
        })
        .collect::<Vec<_>>();
    let n_stations = stations.len();
    let mut r = Replication {
        model,
        calendar: Calendar::with_capacity(1024),
        requests: Vec::with_capacity(1024),
        free: Vec::with_capacity(1024),
        stations,
        journeys: model.journeys.iter().map(|_| JourneyMetrics::new()).collect(),
        arrivals: ArrivalProcess::new(
            &model.arrivals,
            RandomStream::derive(seed, rep, "arrivals"),
        ),
        mix_rng: RandomStream::derive(seed, rep, "journey-mix"),
        window_ns: window_width(model.horizon),
        window_area: vec![0.0; n_stations],
        station_windows: vec![Vec::new(); n_stations],
    };
    r.run();
    let events = r.calendar.events();
    ReplicationResult {
        journeys: r.journeys,
        stations: r.stations,
        station_windows: r.station_windows,
        window_ns: r.window_ns,
        events,
    }
}

impl Replication<'_> {
    fn run(&mut self) {
        if let Some(t) = self.arrivals.first() {
            self.calendar.schedule(t, Event::Arrival);
        }
        self.calendar.schedule(self.window_ns.min(self.model.horizon), Event::Tick);
        let horizon = self.model.horizon;
        while let Some((now, event)) = self.calendar.pop() {
            if now > horizon {
                break;
            }
            match event {
                Event::Arrival => self.on_arrival(now),
                Event::Departure {
                    station,
                    replica,
                    request,
                } => self.on_departure(now, station, replica, request),
                Event::Tick => self.on_tick(now),
            }
        }
        for s in &mut self.stations {
            s.finish(horizon);
        }
    }

    #[inline]
    fn on_arrival(&mut self, now: Nanos) {
        if let Some(next) = self.arrivals.next_after(now) {
            self.calendar.schedule(next, Event::Arrival);
        }
        let journey = if self.model.mix.len() == 1 {
            0
        } else {
            let u = self.mix_rng.next_f64();
            self.model.mix.partition_point(|c| *c <= u) as u32
        };
        let req = Request {
            journey,
            pc: self.model.journeys[journey as usize].entry,
            started: now,
            enqueued: now,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.requests[id as usize] = req;
                id
            }
            None => {
                self.requests.push(req);
                (self.requests.len() - 1) as u32
            }
        };
        self.execute(id, now);
    }

    /// Runs the request's program from its current op until it waits or finishes.
    #[inline]
    fn execute(&mut self, id: u32, now: Nanos) {
        let req = &mut self.requests[id as usize];
        match self.model.ops[req.pc as usize] {
            Op::Visit { station } => {
                req.enqueued = now;
                if let Some(start) = self.stations[station as usize].arrive(id, now) {
                    self.begin(station, start, now);
                }
            }
            Op::Done => {
                let sojourn = now - req.started;
                let counted = req.started >= self.model.warmup;
                self.journeys[req.journey as usize].complete(sojourn, true, counted);
                self.free.push(id);
            }
        }
    }

    #[inline]
    fn begin(&mut self, station: u32, s: Start, now: Nanos) {
        self.calendar.schedule(
            now + s.service,
            Event::Departure {
                station,
                replica: s.replica,
                request: s.request,
            },
        );
    }

    #[inline]
    fn on_departure(&mut self, now: Nanos, station: u32, replica: u32, request: u32) {
        let requests = &self.requests;
        let next =
            self.stations[station as usize].depart(replica, now, |r| requests[r as usize].enqueued);
        if let Some(start) = next {
            self.begin(station, start, now);
        }
        self.requests[request as usize].pc += 1;
        self.execute(request, now);
    }

    fn on_tick(&mut self, now: Nanos) {
        let start = now.saturating_sub(self.window_ns);
        let start_s = start as f64 / 1e9;
        for j in &mut self.journeys {
            j.close_window(start_s);
        }
        let width = (now - start).max(1) as f64;
        for (i, s) in self.stations.iter_mut().enumerate() {
            s.finish(now);
            let area = s.stats.busy_area_all - self.window_area[i];
            self.window_area[i] = s.stats.busy_area_all;
            let util = area / (width * f64::from(s.servers().max(1)));
            self.station_windows[i].push((s.queued() as f64, util));
        }
        if now < self.model.horizon {
            let next = (now + self.window_ns).min(self.model.horizon);
            self.calendar.schedule(next, Event::Tick);
        }
    }
}
