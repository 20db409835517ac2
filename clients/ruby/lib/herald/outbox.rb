# herald/outbox.rb -- the process's bounded queue of events and the thread that hands them to ZeroMQ.
require "ffi-rzmq"

module Herald
  # Herald.notify must never block a request, and Herald.stats must tell
  # what was only queued from what actually went out. So notify appends the
  # envelope's bytes to this queue (bounded by config.send_hwm events and
  # config.max_queue_bytes) and returns; one sender thread per process owns
  # the only PUSH socket and moves them, in order, to ZeroMQ.
  #
  # The PUSH socket is set ZMQ_IMMEDIATE, so ZeroMQ accepts a message only
  # when it has a live connection to a broker (the active one of a pair):
  # a send that succeeds is "sent" (stats[:sent]); while no broker is
  # connected, events wait here ("pending") and the queue fills up, which
  # notify reports as Herald::QueueFull or a counted drop.
  #
  # flush waits until the queue is empty, then has the sender close its
  # socket (and the socket's own ZeroMQ context, so that zmq_ctx_term
  # waits for ZeroMQ to write what it holds, bounded by the flush's
  # deadline); the next event opens a new one. That is what makes
  # `Herald.flush; exit!` deliver.
  class Outbox
    # The sender's blocking send wakes this often to look at stop requests.
    POLL_MS = 100

    def initialize(config, stats)
      @config = config
      @stats = stats
      @lock = Mutex.new
      @cond = ConditionVariable.new
      @items = []
      @bytes = 0
      @in_hand = false
      @thread = nil
      @stopping = false # drain, close, end the thread
      @abort = false    # give up on what is still held (shutdown's deadline passed)
      @flush_asked = 0
      @flush_done = 0
      @flush_deadline = nil
      @context = nil
      @socket = nil
      @failed = nil
    end

    # Appends one envelope. False when the queue is at either bound (the
    # caller raises or counts the drop). The first call opens the socket
    # in the caller's thread (so a bad endpoint raises Herald::SocketError
    # there) and starts the sender, which owns it from then on.
    def push(bytes)
      @lock.synchronize do
        raise @failed if @failed
        return false if @stopping
        return false if @items.size >= @config.send_hwm || @bytes + bytes.bytesize > @config.max_queue_bytes

        unless @thread
          s_socket
          s_start
        end
        @items << bytes
        @bytes += bytes.bytesize
        @cond.broadcast
      end
      true
    end

    # True while the PUSH socket is open (between the first event and a
    # flush or shutdown).
    def open?
      @lock.synchronize { !@socket.nil? }
    end

    # Events queued here or held by the sender, not yet accepted by ZeroMQ.
    def pending
      @lock.synchronize { @items.size + (@in_hand ? 1 : 0) }
    end

    # Waits until every event queued before the call was handed to ZeroMQ
    # and ZeroMQ wrote it out, or until timeout_s passed. True when all
    # went out in time.
    def flush(timeout_s)
      deadline = s_now + timeout_s
      @lock.synchronize do
        return true if @items.empty? && !@in_hand && @socket.nil? && @context.nil?
        return false unless @thread&.alive?
        return false if @abort

        @flush_asked += 1
        ticket = @flush_asked
        @flush_deadline = deadline
        @cond.broadcast
        until @flush_done >= ticket
          left = deadline - s_now
          return false if left <= 0

          @cond.wait(@lock, left)
        end
        @flush_ok
      end
    end

    # Flushes for up to timeout_s, then stops the sender; whatever it could
    # not send by then is counted in stats[:dropped]. Safe to call twice.
    def shutdown(timeout_s)
      ok = flush(timeout_s)
      thread = @lock.synchronize do
        @stopping = true
        @abort = true
        @cond.broadcast
        @thread
      end
      thread&.join(POLL_MS * 3 / 1000.0 + 0.5)
      @lock.synchronize do
        lost = @items.size + (@in_hand ? 1 : 0)
        @stats.count(:dropped, lost) if lost.positive?
        @items.clear
        @bytes = 0
      end
      ok
    end

    private

    def s_now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    # Called under @lock.
    def s_start
      @thread = Thread.new { s_run }
      @thread.name = "herald-sender" if @thread.respond_to?(:name=)
      @thread.report_on_exception = false
    end

    def s_run
      loop do
        job = s_next
        case job
        when :stop
          s_close(0)
          return
        when :flush
          s_finish_flush
        else
          s_send(job)
        end
      end
    rescue StandardError => e
      Herald.logger&.error("herald: sender thread failed: #{e.class}: #{e.message}")
      @lock.synchronize do
        @failed = SocketError.new("herald: the sender thread failed: #{e.class}: #{e.message}")
        @in_hand = false
        @stopping = true
        @cond.broadcast
      end
    end

    # The next event's bytes, :flush, or :stop; waits for one of them.
    def s_next
      @lock.synchronize do
        loop do
          return :stop if @abort || (@stopping && @items.empty?)

          unless @items.empty?
            bytes = @items.shift
            @bytes -= bytes.bytesize
            @in_hand = true
            return bytes
          end
          return :flush if @flush_asked > @flush_done

          @cond.wait(@lock)
        end
      end
    end

    # Sends one event, waiting (in POLL_MS steps) while no broker is
    # connected; gives up only when shutdown aborts.
    def s_send(bytes)
      loop do
        sock = s_socket
        if ZMQ::Util.resultcode_ok?(sock.send_string(bytes))
          @stats.count(:sent)
          break
        end
        errno = ZMQ::Util.errno
        unless errno == ZMQ::EAGAIN
          @stats.count(:dropped)
          Herald.logger&.error("herald: send failed, event dropped: #{ZMQ::Util.error_string}")
          s_close(0)
          break
        end
        break if @lock.synchronize { @abort }
      end
    ensure
      @lock.synchronize do
        @in_hand = false
        @cond.broadcast
      end
    end

    # Answers every flush asked so far: closes the socket with the
    # remaining time as linger and waits for ZeroMQ to write it out.
    def s_finish_flush
      ticket, deadline = @lock.synchronize { [@flush_asked, @flush_deadline] }
      left_ms = ((deadline - s_now) * 1000).floor
      ok = left_ms.positive? && s_close(left_ms)
      @lock.synchronize do
        @flush_ok = ok
        @flush_done = ticket
        @cond.broadcast
      end
    end

    # Closes the socket and terminates its context, which blocks until
    # ZeroMQ wrote what it holds or linger_ms passed. True when that
    # finished before the linger ran out (everything was written).
    def s_close(linger_ms)
      return true unless @context

      started = s_now
      @socket&.setsockopt(ZMQ::LINGER, linger_ms)
      @socket&.close
      @context.terminate
      @socket = nil
      @context = nil
      linger_ms.zero? || (s_now - started) * 1000 < linger_ms
    end

    # The PUSH socket, opened (with a context of its own) if there is none:
    # by push before the sender starts, by the sender after a flush.
    def s_socket
      return @socket if @socket

      @context = ZMQ::Context.new(1)
      raise SocketError, "herald: cannot create a ZeroMQ context" unless @context.context

      sock = @context.socket(ZMQ::PUSH)
      raise SocketError, "herald: cannot create a ZeroMQ socket: #{ZMQ::Util.error_string}" unless sock

      s_check(sock.setsockopt(ZMQ::SNDHWM, @config.send_hwm), "SNDHWM")
      s_check(sock.setsockopt(ZMQ::LINGER, @config.linger_ms), "LINGER")
      s_check(sock.setsockopt(ZMQ::IMMEDIATE, 1), "IMMEDIATE")
      s_check(sock.setsockopt(ZMQ::SNDTIMEO, POLL_MS), "SNDTIMEO")
      # CURVE options must be set before connect to apply
      Curve.apply(sock, @config.curve_keys) if @config.curve_keys
      @config.ingest_endpoints.each { |ep| s_check(sock.connect(ep), "connect #{ep}") }
      @socket = sock
    rescue StandardError
      sock&.close
      @context&.terminate
      @context = nil
      raise
    end

    def s_check(rc, what)
      return rc if ZMQ::Util.resultcode_ok?(rc)

      raise SocketError, "herald: #{what} failed: #{ZMQ::Util.error_string}"
    end
  end
end
