from devices.api.booking_views import BookingViewSet
from devices.api.views import DeviceViewSet
from labcore.api.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("devices", DeviceViewSet, basename="device")
router.register("bookings", BookingViewSet, basename="booking")

urlpatterns = router.urls
