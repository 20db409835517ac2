# herald/errors.rb -- every error the client raises, under one base class.
module Herald
  # Base class: `rescue Herald::Error` catches everything this gem raises.
  class Error < StandardError; end

  # Raised by Herald.notify when the thread's send queue (SNDHWM messages) is
  # full, i.e. the broker has been unreachable or too slow for that long.
  # Not raised when config.on_full is :drop (the drop is counted instead).
  class QueueFull < Error; end

  # Raised when the broker's control socket does not answer within
  # config.control_timeout (broker down, wrong endpoint).
  class Timeout < Error; end

  # Raised by notify(confirm: true) when no broker answered within
  # config.confirm_timeout_ms: the event may or may not have been accepted.
  # Sending it again with the same idempotency_key is safe (the broker
  # routes a key once within its --idempotency-window).
  class Unconfirmed < Timeout
    attr_reader :idempotency_key

    def initialize(message, idempotency_key)
      super(message)
      @idempotency_key = idempotency_key
    end
  end

  # Raised when the broker answers a control request with {"error": ...}.
  class ControlError < Error; end

  # Raised when the configuration lacks what a call needs (e.g. no secret).
  class ConfigError < Error; end

  # Raised when ZeroMQ itself fails (bad endpoint syntax, out of sockets).
  class SocketError < Error; end
end
