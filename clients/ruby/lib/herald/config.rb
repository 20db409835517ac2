# herald/config.rb -- settings, read from HERALD_* variables or Herald.configure.
module Herald
  # Every setting has a default taken from the environment (read when the
  # Config is created) so a 12-factor app needs no initializer at all.
  class Config
    # Every setting Herald.configure, Herald.defaults= and the Railtie accept.
    SETTINGS = %i[ingest control secret secret_file gateway_url send_hwm max_queue_bytes on_full
                  control_timeout_ms failover_timeout_ms confirm_timeout_ms pair_wait_ms linger_ms
                  max_event_bytes token_ttl curve_cert curve_server].freeze

    def self.settings
      SETTINGS
    end

    # ZeroMQ endpoint of the broker's PULL (ingest) socket; "EP1,EP2" for a
    # hot standby pair (events go to whichever broker is active).
    attr_accessor :ingest
    # ZeroMQ endpoint of the broker's ROUTER (control) socket; "EP1,EP2"
    # for a pair, primary first (requests fail over between them).
    attr_accessor :control
    # Shared HS256 secret used by Herald.token.
    attr_accessor :secret
    # A file holding the secret instead (the gateways' --secret-file: one
    # trailing newline is ignored); read by validate! when secret is unset.
    attr_accessor :secret_file
    # The gateway's WebSocket URL for browsers (ws://host:7400/ws, or a
    # list "URL1,URL2"), emitted by the Rails view helper herald_meta_tags.
    attr_accessor :gateway_url
    # Events the process's queue holds while no broker is connected (and
    # ZeroMQ's high-water mark towards a connected one).
    attr_accessor :send_hwm
    # The same queue's bound in bytes of packed envelopes (default 64 MiB).
    attr_accessor :max_queue_bytes
    # What notify does when that queue is full: :raise (Herald::QueueFull)
    # or :drop (returns false and counts Herald.stats[:dropped]); a String
    # ("drop", from YAML) is taken as its Symbol.
    attr_reader :on_full

    def on_full=(value)
      @on_full = value.is_a?(String) ? value.to_sym : value
    end
    # Milliseconds to wait for a control (presence) reply.
    attr_accessor :control_timeout_ms
    # With a pair: how long a control request keeps trying the two brokers
    # (one silent, or passive during a takeover) before Herald::Timeout.
    attr_accessor :failover_timeout_ms
    # How long notify(confirm: true) retries one event before raising
    # Herald::Unconfirmed.
    attr_accessor :confirm_timeout_ms
    # Kept so configurations that set it still load: notify no longer
    # waits for a pair's active broker (its events wait in the queue).
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
      @secret_file = env["HERALD_SECRET_FILE"]
      @gateway_url = env.fetch("HERALD_GATEWAY_URL", "ws://127.0.0.1:7400/ws")
      @send_hwm = Integer(env.fetch("HERALD_SEND_HWM", "10000"))
      @max_queue_bytes = 64 << 20
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
      unless @max_queue_bytes.is_a?(Integer) && @max_queue_bytes >= 65_536
        raise ConfigError, "max_queue_bytes must be an Integer of at least 65536"
      end
      ingest_endpoints
      control_endpoints
      %i[control_timeout_ms failover_timeout_ms confirm_timeout_ms pair_wait_ms].each do |name|
        value = public_send(name)
        raise ConfigError, "#{name} must be a positive Integer" unless value.is_a?(Integer) && value.positive?
      end

      s_load_curve
      s_load_secret
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

    # The secret from secret_file when no secret is given, read now so a
    # wrong path fails at boot.
    def s_load_secret
      return unless @secret.to_s.empty? && !@secret_file.to_s.empty?

      text = begin
        File.binread(@secret_file)
      rescue SystemCallError => e
        raise ConfigError, "herald: cannot read secret_file #{@secret_file}: #{e.message}"
      end
      text = text.delete_suffix("\n").delete_suffix("\r")
      raise ConfigError, "herald: secret_file #{@secret_file} is empty" if text.empty?

      @secret = text
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
