# herald_harness.rb -- start real herald-broker / herald-gateway on free ports for tests.
#
# The Ruby twin of tests/integration/harness.py: binaries come from
# $HERALD_BIN (default build/bin), every process logs to a file shown on
# failure, waits poll a condition with a deadline, and stop is idempotent.
require "socket"
require "net/http"
require "json"
require "timeout"

module HeraldHarness
  BIN = ENV["HERALD_BIN"] || File.expand_path("../../../build/bin", __dir__)
  SECRET = "test-secret-not-for-production"
  WS_CLIENT = File.expand_path("ws_client.py", __dir__)

  module_function

  # A TCP port nobody listens on right now (loopback).
  # A loopback port nobody listens on, below the kernel's ephemeral range
  # (32768+), so no outgoing connection can take it before our process binds.
  def free_port
    @handed_out ||= {}
    loop do
      port = rand(20_000..32_000)
      next if @handed_out[port]

      begin
        TCPServer.new("127.0.0.1", port).close
      rescue SystemCallError
        next
      end
      @handed_out[port] = true
      return port
    end
  end

  # Polls the block until it returns a truthy value; raises on deadline.
  def wait_until(what, timeout: 10.0, interval: 0.02)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
    loop do
      value = yield
      return value if value
      if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
        raise Minitest::Assertion, format("timed out after %.1fs waiting for %s", timeout, what)
      end

      sleep interval
    end
  end

  def http_status(url)
    Net::HTTP.get_response(URI(url)).code.to_i
  rescue StandardError
    0
  end

  # herald-keygen NAME [--role ROLE] in dir; returns the path of NAME.cert.
  def keygen(dir, name, role = nil)
    argv = [File.join(BIN, "herald-keygen"), File.join(dir, name)]
    argv += ["--role", role] if role
    system(*argv, out: File::NULL) or raise "herald-keygen #{name} failed"
    File.join(dir, "#{name}.cert")
  end

  # A child process with its output in a log file.
  class Child
    attr_reader :pid, :log_path

    def initialize(argv, env: {}, name: "proc")
      @log_path = "/tmp/herald-rbtest-#{name}-#{Process.pid}-#{HeraldHarness.free_port}.log"
      @pid = Process.spawn(env, *argv, out: @log_path, err: [:child, :out], pgroup: false)
      @status = nil
    end

    def alive?
      return false if @status

      done = Process.waitpid(@pid, Process::WNOHANG)
      @status = $? if done
      @status.nil?
    end

    def output
      File.exist?(@log_path) ? File.read(@log_path) : ""
    end

    def signal(sig)
      Process.kill(sig, @pid) if alive?
    rescue Errno::ESRCH
      nil
    end

    def kill
      signal("KILL")
      s_reap(5)
    end

    # SIGTERM, then SIGKILL if it has not exited within `timeout` seconds.
    def stop(timeout = 5.0)
      signal("TERM")
      return if s_reap(timeout)

      signal("KILL")
      s_reap(5)
    end

    private

    def s_reap(timeout)
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
      while alive?
        return false if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

        sleep 0.02
      end
      true
    end
  end

  class Broker < Child
    attr_reader :ingest, :publish, :control, :undelivered, :http, :ports

    # extra: more flags, e.g. ["--curve-cert", path, "--curve-allow", dir].
    def initialize(ports: nil, extra: [])
      @ports = ports || %w[ingest publish control undelivered http].to_h { |k| [k, HeraldHarness.free_port] }
      @ingest = "tcp://127.0.0.1:#{@ports['ingest']}"
      @publish = "tcp://127.0.0.1:#{@ports['publish']}"
      @control = "tcp://127.0.0.1:#{@ports['control']}"
      @undelivered = "tcp://127.0.0.1:#{@ports['undelivered']}"
      @http = "http://127.0.0.1:#{@ports['http']}"
      super([File.join(BIN, "herald-broker"), "--ingest", @ingest, "--publish", @publish,
             "--control", @control, "--undelivered", @undelivered,
             "--http", "127.0.0.1:#{@ports['http']}", *extra], name: "broker")
      HeraldHarness.wait_until("broker /healthz") { !alive? || HeraldHarness.http_status("#{@http}/healthz") == 200 }
      raise "broker exited at start:\n#{output}" unless alive?
    end
  end

  # A hot standby pair (the Ruby twin of harness.Pair): a primary and a
  # backup herald-broker, each binding its pair endpoint and connecting to
  # the other's. ingest and control are "primary,backup" lists. Only the
  # active broker binds ingest and HTTP, so serving?(i) tells who is active.
  class Pair
    KEYS = %w[ingest publish control undelivered http pair].freeze
    attr_reader :ingest, :publish, :control, :procs, :ports

    def initialize(pair_timeout_ms: 1000)
      @pair_timeout_ms = pair_timeout_ms
      @ports = Array.new(2) { KEYS.to_h { |k| [k, HeraldHarness.free_port] } }
      ep = ->(i, k) { "tcp://127.0.0.1:#{@ports[i][k]}" }
      @ingest = "#{ep.(0, 'ingest')},#{ep.(1, 'ingest')}"
      @publish = "#{ep.(0, 'publish')},#{ep.(1, 'publish')}"
      @control = "#{ep.(0, 'control')},#{ep.(1, 'control')}"
      @procs = [nil, nil]
    end

    def start(i)
      p = @ports[i]
      argv = [File.join(BIN, "herald-broker"), "--role", %w[primary backup][i],
              "--pair-bind", "tcp://127.0.0.1:#{p['pair']}",
              "--pair-connect", "tcp://127.0.0.1:#{@ports[1 - i]['pair']}",
              "--pair-timeout-ms", @pair_timeout_ms.to_s, "--http", "127.0.0.1:#{p['http']}"]
      %w[ingest publish control undelivered].each { |k| argv += ["--#{k}", "tcp://127.0.0.1:#{p[k]}"] }
      @procs[i] = Child.new(argv, name: %w[primary backup][i])
    end

    # Starts both and waits until the primary serves and sees its backup passive.
    def start_both
      start(0)
      start(1)
      HeraldHarness.wait_until("the primary to serve", timeout: 20) { serving?(0) }
      HeraldHarness.wait_until("the backup to be passive", timeout: 20) do
        metrics(0)[/^herald_broker_pair_peer_state (\d+)/, 1] == "4"
      end
    end

    def serving?(i)
      HeraldHarness.http_status("http://127.0.0.1:#{@ports[i]['http']}/healthz") == 200
    end

    def metrics(i)
      Net::HTTP.get(URI("http://127.0.0.1:#{@ports[i]['http']}/metrics"))
    rescue StandardError
      ""
    end

    def stop
      @procs.each { |c| c&.stop }
    end
  end

  class Gateway < Child
    attr_reader :url, :http, :port

    def initialize(broker, port: nil, secret: SECRET, extra: [])
      @port = port || HeraldHarness.free_port
      @url = "ws://127.0.0.1:#{@port}/ws"
      @http = "http://127.0.0.1:#{@port}"
      super([File.join(BIN, "herald-gateway"), "--listen", "127.0.0.1:#{@port}",
             "--broker", broker.publish, "--control", broker.control, *extra],
            env: { "HERALD_SECRET" => secret }, name: "gateway")
      HeraldHarness.wait_until("gateway /healthz") { !alive? || HeraldHarness.http_status("#{@http}/healthz") == 200 }
      raise "gateway exited at start:\n#{output}" unless alive?
    end
  end

  # A WebSocket client in a python3-websockets subprocess: it authenticates,
  # then prints every frame it receives (welcome, events) as one JSON line,
  # or {"type":"closed","code":N} when the gateway closes.
  class WsClient
    # send: frames sent after the welcome (e.g. subscribes).
    def initialize(url, token, resume: nil, send: nil)
      argv = ["/usr/bin/python3", WS_CLIENT, url, token]
      argv << JSON.generate(resume) if resume || send
      argv << JSON.generate(send) if send
      @io = IO.popen(argv, "r")
      @buf = +""
    end

    # The next frame as a Hash, within timeout seconds.
    def next_frame(timeout: 10.0)
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
      loop do
        if (nl = @buf.index("\n"))
          line = @buf.slice!(0..nl)
          return JSON.parse(line)
        end
        left = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)
        raise Minitest::Assertion, "no frame from the gateway within #{timeout}s" if left <= 0

        ready = IO.select([@io], nil, nil, left)
        next unless ready

        chunk = @io.read_nonblock(65_536, exception: false)
        raise Minitest::Assertion, "websocket client exited" if chunk.nil?

        @buf << chunk unless chunk == :wait_readable
      end
    end

    def welcome(timeout: 10.0)
      frame = next_frame(timeout: timeout)
      raise Minitest::Assertion, "expected welcome, got #{frame.inspect}" unless frame["type"] == "welcome"

      frame
    end

    # The next frame of `type` (skipping others), within timeout seconds.
    def frame_of(type, timeout: 10.0)
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
      loop do
        left = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)
        raise Minitest::Assertion, "no #{type} frame in time" if left <= 0

        frame = next_frame(timeout: left)
        return frame if frame["type"] == type
        raise Minitest::Assertion, "connection closed: #{frame.inspect}" if frame["type"] == "closed"
      end
    end

    # The next `count` event frames.
    def events(count, timeout: 10.0)
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
      out = []
      while out.size < count
        left = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)
        raise Minitest::Assertion, "got #{out.size} of #{count} events in time" if left <= 0

        frame = next_frame(timeout: left)
        out << frame if frame["type"] == "event"
        raise Minitest::Assertion, "connection closed: #{frame.inspect}" if frame["type"] == "closed"
      end
      out
    end

    def close
      Process.kill("TERM", @io.pid)
    rescue Errno::ESRCH
      nil
    ensure
      @io.close unless @io.closed?
    end
  end
end
