# herald/stats.rb -- this process's counters of what notify queued, sent and dropped.
module Herald
  # Counters since the last Herald.configure / reset!, kept per process: a
  # forked child starts from zero on its first count or read.
  #   queued:    events notify/publish/broadcast accepted into the queue
  #   sent:      events handed to ZeroMQ on a live connection to a broker
  #   dropped:   events refused by a full queue (on_full :drop), lost when
  #              the process stopped before a broker took them, or failed
  #   confirmed: confirm: true sends the broker answered as committed
  class Stats
    KEYS = %i[queued sent dropped confirmed].freeze

    def initialize
      @lock = Mutex.new
      s_zero
    end

    def count(key, by = 1)
      @lock.synchronize do
        s_zero unless @pid == Process.pid
        @counts[key] += by
      end
    end

    # A copy of the counters (a Hash of KEYS).
    def snapshot
      @lock.synchronize do
        s_zero unless @pid == Process.pid
        @counts.dup
      end
    end

    def reset!
      @lock.synchronize { s_zero }
    end

    private

    def s_zero
      @counts = KEYS.to_h { |k| [k, 0] }
      @pid = Process.pid
    end
  end
end
