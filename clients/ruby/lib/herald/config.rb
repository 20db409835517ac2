# herald/config.rb -- settings, read from HERALD_* variables or Herald.configure.
module Herald
  # Every setting has a default taken from the environment (read when the
  # Config is created) so a 12-factor app needs no initializer at all.
  class Config
    # ZeroMQ endpoint of the broker's PULL (ingest) socket; "EP1,EP2" for a
    # hot standby pair (events go to whichever broker is active).
    attr_accessor :ingest
    # ZeroMQ endpoint of the broker's ROUTER (control) socket; "EP1,EP2"
    # for a pair, primary first (requests fail over between them).
    attr_accessor :control
    # Shared HS256 secret used by Herald.token.
    attr_accessor :secret
    # Messages a thread's PUSH socket queues while the broker is away.
    attr_accessor :send_hwm
    # What notify does when that queue is full: :raise (Herald::QueueFull)
    # or :drop (returns false and counts Herald.stats[:dropped]).
    attr_accessor :on_full
    # Milliseconds to wait for a control (presence) reply.
    attr_accessor :control_timeout_ms
    # With a pair: how long a control request keeps trying the two brokers
    # (one silent, or passive during a takeover) before Herald::Timeout.
    attr_accessor :failover_timeout_ms
    # How long notify(confirm: true) retries one event before raising
    # Herald::Unconfirmed.
    attr_accessor :confirm_timeout_ms
    # With a pair of ingest endpoints: how long notify may wait for a
    # connection to the active broker when none is up (a thread's first
    # event, a takeover) before the queue counts as full.
    attr_accessor :pair_wait_ms
    # Milliseconds queued events may still be flushed when a socket closes
    # (process exit, Herald.reset!). Bounded so exit never hangs on a dead broker.
    attr_accessor :linger_ms
    # Envelopes larger than this are refused locally (ArgumentError), since
    # the broker would drop them silently (its --max-event-bytes).
    attr_accessor :max_event_bytes
    # Default token lifetime in seconds for Herald.token.
    attr_accessor :token_ttl
    # CURVE: this backend's certificate (herald-keygen NAME --role producer;
    # NAME.cert, with NAME.cert_secret beside it) and the broker's public
    # certificate. Both or neither; with them every socket is a CURVE client.
    attr_accessor :curve_cert, :curve_server
    # The keys read from those files by validate! (nil without CURVE).
    attr_reader :curve_keys

    def initialize(env = ENV)
      @ingest = env.fetch("HERALD_INGEST", "tcp://127.0.0.1:7401")
      @control = env.fetch("HERALD_CONTROL", "tcp://127.0.0.1:7403")
      @secret = env["HERALD_SECRET"]
      @send_hwm = Integer(env.fetch("HERALD_SEND_HWM", "10000"))
      @on_full = env.fetch("HERALD_ON_FULL", "raise").to_sym
      @control_timeout_ms = Integer(env.fetch("HERALD_CONTROL_TIMEOUT_MS", "1000"))
      @failover_timeout_ms = Integer(env.fetch("HERALD_FAILOVER_TIMEOUT_MS", "5000"))
      @confirm_timeout_ms = Integer(env.fetch("HERALD_CONFIRM_TIMEOUT_MS", "15000"))
      @pair_wait_ms = Integer(env.fetch("HERALD_PAIR_WAIT_MS", "1000"))
      @linger_ms = Integer(env.fetch("HERALD_LINGER_MS", "1000"))
      @max_event_bytes = Integer(env.fetch("HERALD_MAX_EVENT_BYTES", "65536"))
      @token_ttl = 3600
      @curve_cert = env["HERALD_CURVE_CERT"]
      @curve_server = env["HERALD_CURVE_SERVER"]
      @curve_keys = nil
    end

    # Raises ConfigError for a value that cannot work, so a typo shows at
    # boot rather than at the first notify.
    def validate!
      unless %i[raise drop].include?(@on_full)
        raise ConfigError, "on_full must be :raise or :drop, not #{@on_full.inspect}"
      end
      raise ConfigError, "send_hwm must be a positive Integer" unless @send_hwm.is_a?(Integer) && @send_hwm.positive?
      ingest_endpoints
      control_endpoints
      %i[control_timeout_ms failover_timeout_ms confirm_timeout_ms pair_wait_ms].each do |name|
        value = public_send(name)
        raise ConfigError, "#{name} must be a positive Integer" unless value.is_a?(Integer) && value.positive?
      end

      s_load_curve
      self
    end

    # The ingest endpoints: one, or a pair's two.
    def ingest_endpoints
      s_endpoints("ingest", @ingest)
    end

    # The control endpoints: one, or a pair's two (primary first).
    def control_endpoints
      s_endpoints("control", @control)
    end

    private

    def s_endpoints(name, value)
      list = value.to_s.split(",", -1).map(&:strip)
      raise ConfigError, "#{name} endpoint is empty" if value.to_s.empty?
      if list.size > 2 || list.any?(&:empty?)
        raise ConfigError, "#{name} takes one endpoint, or two separated by a comma (a hot standby pair): #{value.inspect}"
      end

      list
    end

    # Reads the certificates now, so a wrong path fails at boot.
    def s_load_curve
      cert = @curve_cert.to_s
      server = @curve_server.to_s
      @curve_keys = nil
      return if cert.empty? && server.empty?
      if cert.empty? || server.empty?
        raise ConfigError, "curve_cert and curve_server go together (this backend's key and the broker's public key)"
      end

      @curve_keys = Curve.load(cert, server)
    end
  end
end
