# app/controllers/herald_status_controller.rb -- what the live tests ask the running app: Herald.flush, stats, presence.
class HeraldStatusController < ApplicationController
  skip_forgery_protection # called by the test, not a browser

  # POST /herald/flush: { flushed: Herald.flush(timeout:), stats: Herald.stats }
  def flush
    flushed = Herald.flush(timeout: Float(params.fetch(:timeout, "5")))
    render json: { flushed: flushed, stats: Herald.stats }
  end

  # GET /herald/online?user=: { online: Herald.online?(user) }
  def online
    render json: { online: Herald.online?(params.require(:user)) }
  end
end
