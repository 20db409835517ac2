# herald/testing.rb -- test mode: record what the app would send instead of sending it.
require "msgpack"

module Herald
  # Herald.test_mode! turns it on for the process: notify, publish and
  # broadcast still check and pack every envelope exactly as they would
  # (so an ArgumentError shows in tests too), then record it here instead
  # of queueing it. Presence answers from online!, disconnect is recorded,
  # tokens are minted (with SECRET when no secret is configured), and no
  # socket is ever opened. Herald::TestHelper asserts on the records.
  module Testing
    # The secret tokens are signed with in test mode when none is configured.
    SECRET = "herald-test-mode-secret"
    # Records kept at most (the oldest go first), so a long test cannot grow memory without bound.
    MAX_RECORDS = 10_000

    # One recorded send. kind: :notify, :publish or :broadcast; to: the
    # recipients' ids (an Array, empty for channels and broadcasts);
    # channel: the channel (publish only); data: as the browser receives
    # it (string keys, models through as_json); confirm: sent with
    # confirm: true.
    Notification = Struct.new(:kind, :to, :channel, :event, :data, :id, :ttl, :idempotency_key, :confirm,
                              keyword_init: true)

    @lock = Mutex.new
    @on = false
    @records = []
    @online = {}
    @disconnects = []
    @offset = 0

    class << self
      def on?
        @on
      end

      def on!(value)
        @on = value ? true : false
      end

      # A copy of what was recorded since the last clear!, oldest first.
      def notifications
        @lock.synchronize { @records.dup }
      end

      # User ids Herald.disconnect was called for, oldest first.
      def disconnects
        @lock.synchronize { @disconnects.dup }
      end

      # Forgets every record, disconnect and online user (TestHelper calls
      # it before each test).
      def clear!
        @lock.synchronize do
          @records.clear
          @disconnects.clear
          @online.clear
        end
        nil
      end

      # Marks users online (Herald.online?/presence answer true for them).
      def online!(*users)
        ids = users.flatten.map { |u| Envelope.check_user(u) }
        @lock.synchronize { ids.each { |u| @online[u] = true } }
        nil
      end

      def offline!(*users)
        ids = users.flatten.map { |u| Envelope.check_user(u) }
        @lock.synchronize { ids.each { |u| @online.delete(u) } }
        nil
      end

      # Called by Herald in test mode with the envelope bytes it would
      # send. Returns what the real call returns: true, or for confirm a
      # confirmation Hash with a made-up offset.
      def record(bytes, stats, confirm: false)
        env = MessagePack.unpack(bytes)
        note = Notification.new(
          kind: if env["channel"] then :publish elsif env["broadcast"] then :broadcast else :notify end,
          to: env.key?("to") ? Array(env["to"]) : [], channel: env["channel"], event: env["event"],
          data: env["data"], id: env["id"], ttl: env["ttl"], idempotency_key: env["idempotency_key"],
          confirm: confirm
        )
        offset = @lock.synchronize do
          @records << note
          @records.shift while @records.size > MAX_RECORDS
          @offset += 1
        end
        if confirm
          stats.count(:confirmed)
          return { offset: offset, epoch: "test", duplicate: false, idempotency_key: note.idempotency_key }
        end
        stats.count(:queued)
        stats.count(:sent)
        true
      end

      def presence(ids)
        @lock.synchronize { ids.to_h { |u| [u, @online.key?(u)] } }
      end

      def disconnect(id)
        @lock.synchronize do
          @disconnects << id
          { online: @online.key?(id), sent: true }
        end
      end
    end
  end

  class << self
    # Test mode on (or off with false): see Herald::Testing. Put it in
    # test/test_helper.rb (or spec/rails_helper.rb) and include
    # Herald::TestHelper where you assert.
    def test_mode!(on = true)
      Testing.on!(on)
      Testing.clear!
      nil
    end

    def test_mode?
      Testing.on?
    end
  end
end
