# herald/pool.rb -- one ZeroMQ context and outbox per process, one control socket per thread.
require "ffi-rzmq"

module Herald
  # ZeroMQ sockets must not be shared between threads, and a context must
  # not be used across fork(): its I/O threads exist only in the parent.
  # So the pool keys everything by PID. The first call in a forked child
  # (a Puma or Unicorn worker) finds a foreign PID, forgets the parent's
  # context and sockets without touching them (closing them would talk to
  # I/O threads the child does not have; ffi-rzmq's finalizers also check
  # the PID), and builds its own.
  #
  # Control (REQ) sockets live in a registry so they can be closed when
  # their thread has died (reaped when the next socket is made) and at
  # process exit. Events go through the process's Outbox, whose sender
  # thread owns the only PUSH socket.
  #
  # A hot standby pair ("EP1,EP2"): the PUSH socket connects to both with
  # ZMQ_IMMEDIATE (only the active broker binds ingest, and nothing may
  # queue towards the other); control requests go to one endpoint at a
  # time, the same for every thread, moved by control_silent and
  # control_passive with the gateway's rules (proto/PROTOCOL.md).
  class Pool
    REQ_KEYS = %i[req0 req1].freeze
    # A passive's refusal does not move us back to an endpoint that was
    # silent this recently: the passive is taking over (our request is its vote).
    STAY_MS = 5000

    def initialize(config, stats)
      @config = config
      @stats = stats
      @lock = Mutex.new
      @pid = nil
      @context = nil
      @outbox = nil
      @entries = {} # Thread => { push: Socket, req0: Socket, req1: Socket }
      @generation = 0
      @control_endpoints = config.control_endpoints
      @control_at = 0
      @silent_at = [nil, nil] # monotonic seconds each control endpoint last timed out
    end

    # This process's Outbox (see Herald::Outbox): a new one after a fork.
    def outbox
      @lock.synchronize do
        s_adopt_process(Process.pid)
        @outbox
      end
    end

    # True when this process opened the pool's sockets.
    def current?
      @lock.synchronize { @pid == Process.pid }
    end

    # True when another process (the parent of a fork) opened them.
    def foreign?
      @lock.synchronize { !@pid.nil? && @pid != Process.pid }
    end

    # Events this process queued that ZeroMQ has not accepted yet (0 when
    # nothing was sent in this process).
    def pending
      box = @lock.synchronize { @pid == Process.pid ? @outbox : nil }
      box ? box.pending : 0
    end

    # The control endpoint requests go to now (an index into
    # config.control_endpoints).
    def control_at
      @lock.synchronize { @control_at }
    end

    def control_endpoint(index)
      @control_endpoints[index]
    end

    # Endpoint `index` did not answer in time: requests move to the other
    # one of a pair.
    def control_silent(index)
      @lock.synchronize do
        @silent_at[index] = s_now
        @control_at = 1 - index if @control_endpoints.size == 2 && @control_at == index
      end
    end

    # Endpoint `index` answered as a passive broker. True when requests
    # moved to the other endpoint; false when they stay (one endpoint, or
    # the other was silent lately: this one is about to take over).
    def control_passive(index)
      @lock.synchronize do
        return false unless @control_endpoints.size == 2

        other = @silent_at[1 - index]
        return false if other && s_now - other < STAY_MS / 1000.0

        @control_at = 1 - index if @control_at == index
        true
      end
    end

    # The calling thread's REQ socket to control endpoint `index`, whose
    # receive timeout is timeout_ms. A REQ socket that timed out waiting for
    # a reply is stuck in its state machine, so callers drop it with
    # discard_req and get a fresh one next time.
    def req_socket(index, timeout_ms)
      entry = s_entry
      key = REQ_KEYS.fetch(index)
      sock = entry[key] ||= s_open(ZMQ::REQ, [@control_endpoints[index]]) do |s|
        s_check(s.setsockopt(ZMQ::LINGER, 0), "LINGER")
        s_check(s.setsockopt(ZMQ::SNDTIMEO, @config.control_timeout_ms), "SNDTIMEO")
      end
      s_check(sock.setsockopt(ZMQ::RCVTIMEO, timeout_ms), "RCVTIMEO")
      sock
    end

    def discard_req(index)
      entry = s_entry
      sock = entry.delete(REQ_KEYS.fetch(index))
      sock&.close
    end

    # Number of live control sockets this process holds, plus its one PUSH
    # socket once an event was sent (for tests and debugging).
    def socket_count
      @lock.synchronize do
        return 0 unless @pid == Process.pid

        @entries.values.sum { |e| e.size } + (@outbox&.open? ? 1 : 0)
      end
    end

    # Closes every socket of this process and terminates its context.
    # Queued events get timeout_s (default config.linger_ms) to go out;
    # those that did not are counted dropped. Called at exit and by
    # Herald.reset!; safe to call twice, and a no-op in a forked child that
    # never used the pool (the parent's context is not ours to close).
    def shutdown(timeout_s = @config.linger_ms / 1000.0)
      box = @lock.synchronize { @pid == Process.pid ? @outbox : nil }
      box&.shutdown(timeout_s)
      @lock.synchronize do
        return unless @pid == Process.pid

        @outbox = nil
        @entries.each_value { |e| e.each_value(&:close) }
        @entries.clear
        @context&.terminate
        @context = nil
        @pid = nil
        @generation += 1
      end
    end

    private

    # This thread's socket entry, creating the process context if this is
    # the first use in this process.
    def s_entry
      key = :__herald_pool_entry
      cached = Thread.current.thread_variable_get(key)
      pid = Process.pid
      if cached && cached[:pool].equal?(self) && cached[:pid] == pid && cached[:gen] == @generation
        return cached[:entry]
      end

      entry = @lock.synchronize do
        s_adopt_process(pid)
        s_reap_dead_threads
        @entries[Thread.current] ||= {}
      end
      Thread.current.thread_variable_set(key, { pool: self, pid: pid, gen: @generation, entry: entry })
      entry
    end

    # Called under @lock: a new context after a fork (or at first use).
    def s_adopt_process(pid)
      return if @pid == pid && @context

      # Parent's objects are left alone on purpose (see the class comment).
      @entries = {}
      @outbox = Outbox.new(@config, @stats)
      @context = ZMQ::Context.new(1)
      raise SocketError, "herald: cannot create a ZeroMQ context" unless @context.context

      @pid = pid
      @generation += 1
    end

    # Called under @lock. Closing a dead thread's socket from this thread is
    # allowed: ZeroMQ sockets may migrate between threads across a barrier,
    # and the mutex is one.
    def s_reap_dead_threads
      @entries.delete_if do |thread, sockets|
        next false if thread.alive?

        sockets.each_value(&:close)
        true
      end
    end

    def s_now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    def s_open(type, endpoints)
      ctx = @lock.synchronize { @context }
      sock = ctx.socket(type)
      raise SocketError, "herald: cannot create a ZeroMQ socket: #{ZMQ::Util.error_string}" unless sock

      begin
        yield sock
        # CURVE options must be set before connect to apply
        Curve.apply(sock, @config.curve_keys) if @config.curve_keys
        endpoints.each { |ep| s_check(sock.connect(ep), "connect #{ep}") }
      rescue StandardError
        sock.close
        raise
      end
      sock
    end

    def s_check(rc, what)
      return rc if ZMQ::Util.resultcode_ok?(rc)

      raise SocketError, "herald: #{what} failed: #{ZMQ::Util.error_string}"
    end
  end
end
